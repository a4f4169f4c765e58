package dspsim

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// CreativeKind is where the simulator's bids carry their creative.
type CreativeKind string

// Creative kinds.
const (
	// CreativeNURL: no adm; the nurl answers a 1×1 PNG (the Adshares OpenRTB
	// profile as the bridge uses it today).
	CreativeNURL CreativeKind = "nurl"
	// CreativeImage: adm is image markup, <a href=click><img src=PNG of the
	// slot's size></a> plus a 1×1 pixel; nurl is a win notice.
	CreativeImage CreativeKind = "image"
	// CreativeVAST: adm is an inline VAST 4.0 document (or, with
	// Options.VASTWrapper, a VAST 3.0 wrapper of it) with one progressive
	// media file served from Options.VideoBytes.
	CreativeVAST CreativeKind = "vast"
)

// CreativeKinds lists every kind (for flags and docs).
var CreativeKinds = []CreativeKind{CreativeNURL, CreativeImage, CreativeVAST}

// ParseCreativeKind checks a creative kind name.
func ParseCreativeKind(s string) (CreativeKind, error) {
	for _, k := range CreativeKinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", errors.New("unknown creative " + s + "; one of nurl, image, vast")
}

// Hit is an endpoint of the simulator's creatives and notices.
type Hit string

// Counted endpoints.
const (
	HitImage      Hit = "image"      // GET /creative/WxH.png: the markup's image
	HitPixel      Hit = "pixel"      // GET /pixel: the markup's 1×1 tracking pixel
	HitVAST       Hit = "vast"       // GET /vast/inline.xml: the document behind the wrapper
	HitMedia      Hit = "media"      // GET /media/video: the VAST media file
	HitImpression Hit = "impression" // GET /impression: a VAST Impression
	HitEvent      Hit = "event"      // GET /event: a VAST tracking event
	HitClick      Hit = "click"      // GET /click: the click-through (redirects to the advertiser)
	HitWin        Hit = "win"        // GET /win: the nurl
	HitBill       Hit = "bill"       // GET /bill: the burl, failed calls included
)

// stubMP4 is an ISO BMFF header alone: it passes an mp4 signature check but
// does not play. Real video comes from Options.VideoBytes.
var stubMP4 = []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41")

// Hits is how many times h was requested.
func (s *Server) Hits(h Hit) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hits[h])
}

// HitQueries returns the query of every request to h, in order.
func (s *Server) HitQueries(h Hit) []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.hits[h]...)
}

func (s *Server) hit(h Hit, r *http.Request) {
	s.mu.Lock()
	s.hits[h] = append(s.hits[h], r.URL.Query())
	s.mu.Unlock()
}

// slotSize is the size an imp asks for: banner format, banner w/h, video
// w/h, else 300x250.
func slotSize(imp *openrtb2.Imp) (w, h int64) {
	switch {
	case imp.Banner != nil && len(imp.Banner.Format) > 0:
		return imp.Banner.Format[0].W, imp.Banner.Format[0].H
	case imp.Banner != nil && imp.Banner.W != nil && imp.Banner.H != nil:
		return *imp.Banner.W, *imp.Banner.H
	case imp.Video != nil && imp.Video.W != nil && imp.Video.H != nil:
		return *imp.Video.W, *imp.Video.H
	}
	return 300, 250
}

// markup is a bid's adm for the configured creative kind ("" for nurl).
func markup(o Options, w, h int64, q string) string {
	base := o.PublicURL
	switch o.Creative {
	case CreativeImage:
		iw, ih := w, h
		if o.ImageSize != "" {
			fmt.Sscanf(o.ImageSize, "%dx%d", &iw, &ih)
		}
		src := fmt.Sprintf("%s/creative/%dx%d.png", base, iw, ih)
		if o.CreativeQuery {
			src += "?" + q
		}
		return fmt.Sprintf(`<a href="%s" target="_blank"><img src="%s" width="%d" height="%d" border="0"></a>`+
			`<img src="%s" width="1" height="1" style="display:none">`,
			html.EscapeString(base+"/click?"+q), html.EscapeString(src), w, h, html.EscapeString(base+"/pixel?"+q))
	case CreativeVAST:
		if o.VASTWrapper {
			return fmt.Sprintf(`<VAST version="3.0"><Ad id="sim-wrapper"><Wrapper><AdSystem>dspsim</AdSystem>`+
				`<VASTAdTagURI><![CDATA[%s/vast/inline.xml?w=%d&h=%d&%s]]></VASTAdTagURI>`+
				`<Impression><![CDATA[%s/impression?via=wrapper&%s]]></Impression></Wrapper></Ad></VAST>`,
				base, w, h, q, base, q)
		}
		return inlineVAST(o, w, h, q)
	}
	return ""
}

// inlineVAST is the simulator's inline VAST document for a w×h slot.
func inlineVAST(o Options, w, h int64, q string) string {
	base := o.PublicURL
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+
		`<VAST version="4.0"><Ad id="sim"><InLine><AdSystem>dspsim</AdSystem><AdTitle>simulated video</AdTitle>`+
		`<Impression><![CDATA[%[1]s/impression?%[4]s]]></Impression>`+
		`<Creatives><Creative><Linear><Duration>00:00:05</Duration><TrackingEvents>`+
		`<Tracking event="start"><![CDATA[%[1]s/event?e=start&%[4]s]]></Tracking>`+
		`<Tracking event="complete"><![CDATA[%[1]s/event?e=complete&%[4]s]]></Tracking></TrackingEvents>`+
		`<VideoClicks><ClickThrough><![CDATA[%[1]s/click?%[4]s]]></ClickThrough></VideoClicks>`+
		`<MediaFiles><MediaFile delivery="progressive" type="%[5]s" width="%[2]d" height="%[3]d"><![CDATA[%[1]s/media/video]]></MediaFile></MediaFiles>`+
		`</Linear></Creative></Creatives></InLine></Ad></VAST>`, base, w, h, q, o.VideoMime)
}

// creativeImage serves /creative/WxH.png: a PNG of that size.
func (s *Server) creativeImage(w http.ResponseWriter, r *http.Request) {
	s.hit(HitImage, r)
	name := strings.TrimSuffix(r.PathValue("name"), ".png")
	ws, hs, _ := strings.Cut(name, "x")
	iw, err1 := strconv.Atoi(ws)
	ih, err2 := strconv.Atoi(hs)
	if err1 != nil || err2 != nil || iw <= 0 || ih <= 0 || iw > 4000 || ih > 4000 {
		http.NotFound(w, r)
		return
	}
	b := s.png(iw, ih)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(b)
}

// png is a w×h PNG, made once per size.
func (s *Server) png(w, h int) []byte {
	key := [2]int{w, h}
	s.mu.Lock()
	b, ok := s.pngs[key]
	s.mu.Unlock()
	if ok {
		return b
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 0xa0, 0xff})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	s.mu.Lock()
	s.pngs[key] = buf.Bytes()
	s.mu.Unlock()
	return buf.Bytes()
}

func (s *Server) trackingPixel(w http.ResponseWriter, r *http.Request) {
	s.hit(HitPixel, r)
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(pixel)
}

func (s *Server) vastInline(w http.ResponseWriter, r *http.Request) {
	s.hit(HitVAST, r)
	q := r.URL.Query()
	vw, _ := strconv.ParseInt(q.Get("w"), 10, 64)
	vh, _ := strconv.ParseInt(q.Get("h"), 10, 64)
	q.Del("w")
	q.Del("h")
	s.mu.Lock()
	o := s.opts
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write([]byte(inlineVAST(o, vw, vh, q.Encode())))
}

func (s *Server) media(w http.ResponseWriter, r *http.Request) {
	s.hit(HitMedia, r)
	s.mu.Lock()
	b, mime := s.opts.VideoBytes, s.opts.VideoMime
	s.mu.Unlock()
	if len(b) == 0 {
		b = stubMP4
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", mime)
	http.ServeContent(w, r, "", s.started, bytes.NewReader(b)) // Range requests, as video players send
}

func (s *Server) counted(h Hit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.hit(h, r)
		w.WriteHeader(http.StatusNoContent)
	}
}

// click redirects to the advertiser, as a DSP's click tracker does.
func (s *Server) click(w http.ResponseWriter, r *http.Request) {
	s.hit(HitClick, r)
	s.mu.Lock()
	dom := s.opts.ADomain
	s.mu.Unlock()
	to := "https://advertiser.example/"
	if len(dom) > 0 {
		to = "https://" + dom[0] + "/"
	}
	http.Redirect(w, r, to, http.StatusFound)
}

// Markup is the adm the simulator's bids carry for a w×h slot with its
// configured creative kind ("" for nurl): image markup or VAST pointing at
// this server's /creative, /pixel, /media/video endpoints. query is the
// query string of its tracking URLs (macros may be left in it).
func (s *Server) Markup(w, h int64, query string) string {
	s.mu.Lock()
	o := s.opts
	s.mu.Unlock()
	return markup(o, w, h, query)
}
