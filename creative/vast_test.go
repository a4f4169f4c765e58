package creative

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/macros"
)

func inlineVAST(version, media string) string {
	return `<VAST version="` + version + `"><Ad><InLine><Impression>http://127.0.0.1/imp</Impression><Creatives><Creative><Linear>` +
		`<MediaFiles>` + media + `</MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>`
}

func mediaFile(typ, delivery, api string, w, h, bitrate int, u string) string {
	return fmt.Sprintf(`<MediaFile type=%q delivery=%q apiFramework=%q width="%d" height="%d" bitrate="%d"><![CDATA[%s]]></MediaFile>`, typ, delivery, api, w, h, bitrate, u)
}

func TestParseVAST(t *testing.T) {
	mp4 := mediaFile("video/mp4", "progressive", "", 640, 360, 500, "http://127.0.0.1/a.mp4")
	tests := []struct {
		name, doc, detail string
		ok                bool
	}{
		{"VAST 2.0", inlineVAST("2.0", mp4), "", true},
		{"VAST 3.0", inlineVAST("3.0", mp4), "", true},
		{"VAST 4.2", inlineVAST("4.2", mp4), "", true},
		{"VAST 4.1.1 with namespace", strings.Replace(inlineVAST("4.1.1", mp4), "<VAST ", `<VAST xmlns="http://www.iab.com/VAST" `, 1), "", true},
		{"ISO-8859-1", `<?xml version="1.0" encoding="ISO-8859-1"?>` + strings.Replace(inlineVAST("3.0", mp4), "<InLine>", "<InLine><AdTitle>caf\xe9</AdTitle>", 1), "", true},
		{"VAST 1.0", inlineVAST("1.0", mp4), "version", false},
		{"no version", strings.Replace(inlineVAST("3.0", mp4), ` version="3.0"`, "", 1), "version", false},
		{"empty VAST (no ad)", `<VAST version="3.0"></VAST>`, "without an ad", false},
		{"not VAST", `<?xml version="1.0"?><html></html>`, "not a VAST document", false},
		{"malformed", `<VAST version="3.0"><Ad>`, "not a VAST document", false},
		{"external entity", `<?xml version="1.0"?><!DOCTYPE VAST [<!ENTITY x SYSTEM "file:///etc/passwd">]><VAST version="3.0"><Ad><InLine><AdTitle>&x;</AdTitle></InLine></Ad></VAST>`, "not a VAST document", false},
		{"wrapper without URI", `<VAST version="3.0"><Ad><Wrapper></Wrapper></Ad></VAST>`, "without VASTAdTagURI", false},
		{"wrapper with a relative URI", `<VAST version="3.0"><Ad><Wrapper><VASTAdTagURI>/next.xml</VASTAdTagURI></Wrapper></Ad></VAST>`, "not an absolute", false},
		{"too many trackers", strings.Replace(inlineVAST("3.0", mp4), "<Impression>", strings.Repeat("<Impression>http://127.0.0.1/i</Impression>", MaxTrackers)+"<Impression>", 1), "tracking URLs", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ad, err := ParseVAST([]byte(tt.doc))
			if tt.ok {
				if err != nil || len(ad.MediaFiles) != 1 || ad.MediaFiles[0].URL != "http://127.0.0.1/a.mp4" || len(ad.Impressions) != 1 {
					t.Fatalf("got %+v, %v", ad, err)
				}
				return
			}
			if ReasonOf(err) != ReasonUnrenderable || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("error %v, want unrenderable with %q", err, tt.detail)
			}
		})
	}
}

func TestParseVASTFields(t *testing.T) {
	doc := `<VAST version="3.0"><Ad><Wrapper followAdditionalWrappers="false"><VASTAdTagURI>
		<![CDATA[ http://127.0.0.1/next.xml?a=1&b=2 ]]></VASTAdTagURI><Impression>not a url</Impression>
		<Impression> http://127.0.0.1/i </Impression></Wrapper></Ad><Ad><InLine/></Ad></VAST>`
	ad, err := ParseVAST([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if ad.WrapperURI != "http://127.0.0.1/next.xml?a=1&b=2" || ad.FollowWrappers || len(ad.Impressions) != 1 || ad.Impressions[0] != "http://127.0.0.1/i" {
		t.Fatalf("%+v", ad)
	}
}

func TestPickMediaFile(t *testing.T) {
	files := []MediaFile{
		{URL: "vpaid", Type: "application/javascript", APIFramework: "VPAID", Delivery: "progressive", W: 300, H: 250},
		{URL: "vpaid-mp4", Type: MimeMP4, APIFramework: "VPAID", Delivery: "progressive", W: 300, H: 250},
		{URL: "stream", Type: MimeMP4, Delivery: "streaming", W: 300, H: 250},
		{URL: "big", Type: MimeMP4, Delivery: "progressive", W: 1920, H: 1080, Bitrate: 4000},
		{URL: "mid-hi", Type: MimeMP4, Delivery: "progressive", W: 640, H: 360, Bitrate: 2000},
		{URL: "mid-lo", Type: MimeMP4, Delivery: "progressive", W: 640, H: 360, Bitrate: 700},
		{URL: "nosize", Type: MimeMP4, W: 0, H: 0},
		{URL: "webm", Type: MimeWebM, Delivery: "progressive", W: 300, H: 250},
	}
	tests := []struct {
		slot Slot
		want string
		r    Reason
	}{
		{Slot{Type: "video", Mime: MimeMP4, W: 640, H: 360}, "mid-lo", ""},
		{Slot{Type: "video", Mime: MimeMP4, W: 900, H: 506}, "mid-lo", ""}, // by scale, 640x360 is nearer than 1920x1080
		{Slot{Type: "video", Mime: MimeMP4, W: 1280, H: 720}, "big", ""},   // and here 1920x1080 (x1.5) is nearer than 640x360 (x2)
		{Slot{Type: "video", Mime: MimeMP4, W: 1920, H: 1080}, "big", ""},
		{Slot{Type: "video", Mime: MimeWebM, W: 640, H: 360}, "webm", ""},
	}
	for _, tt := range tests {
		got, err := pickMediaFile(files, tt.slot)
		if got.URL != tt.want || ReasonOf(err) != tt.r {
			t.Errorf("slot %+v: %q %v, want %q", tt.slot, got.URL, err, tt.want)
		}
	}
	if _, err := pickMediaFile(files[:3], Slot{Type: "video", Mime: MimeMP4, W: 300, H: 250}); ReasonOf(err) != ReasonUnrenderable {
		t.Errorf("VPAID/streaming only: %v", err)
	}
	if _, err := pickMediaFile(files[7:], Slot{Type: "video", Mime: MimeMP4, W: 300, H: 250}); ReasonOf(err) != ReasonMismatch {
		t.Errorf("webm only for an mp4 slot: %v", err)
	}
	if got, _ := pickMediaFile(files[6:7], Slot{Type: "video", Mime: MimeMP4, W: 300, H: 250}); got.URL != "nosize" {
		t.Errorf("a file without a size is still eligible: %q", got.URL)
	}
}

// wrapperChain serves /w/N: a wrapper pointing to /w/N-1, down to /w/0, an
// inline ad. It counts the documents served.
func wrapperChain(t *testing.T, media string) (*httptest.Server, *atomic.Int64) {
	var served atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		var n int
		fmt.Sscanf(r.URL.Path, "/w/%d", &n)
		if n == 0 {
			fmt.Fprint(w, inlineVAST("4.0", mediaFile("video/mp4", "progressive", "", 64, 36, 0, media)))
			return
		}
		fmt.Fprintf(w, `<VAST version="3.0"><Ad><Wrapper><VASTAdTagURI>%s/w/%d?cb=[CACHEBUSTING]</VASTAdTagURI><Impression>%s/imp/%d</Impression></Wrapper></Ad></VAST>`, srv.URL, n-1, srv.URL, n)
	}))
	t.Cleanup(srv.Close)
	return srv, &served
}

func TestVASTWrapperDepth(t *testing.T) {
	a := newAssets(t)
	chain, served := wrapperChain(t, a.URL+"/media/tiny.mp4")
	slot := Slot{Type: "video", Mime: MimeMP4, W: 64, H: 36}
	adm := func(n int) string {
		return `<VAST version="3.0"><Ad><Wrapper><VASTAdTagURI>` + chain.URL + fmt.Sprintf("/w/%d", n) + `</VASTAdTagURI></Wrapper></Ad></VAST>`
	}
	r := New(chain.Client(), Config{MaxWrappers: 3})
	defer r.Close()
	// adm is wrapper 1; /w/2, /w/1 are wrappers 2 and 3; /w/0 is the inline ad.
	c, err := r.Markup(context.Background(), slot, adm(2), macros.Values{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Wrappers != 3 || len(c.ImpressionURLs) != 3 || c.ImpressionURLs[0] != chain.URL+"/imp/2" || served.Load() != 3 {
		t.Fatalf("wrappers %d, impressions %v, documents served %d", c.Wrappers, c.ImpressionURLs, served.Load())
	}
	served.Store(0)
	_, err = r.Markup(context.Background(), slot, adm(3), macros.Values{})
	if ReasonOf(err) != ReasonUnrenderable || !strings.Contains(err.Error(), "more than 3 VAST wrappers") || served.Load() != 3 {
		t.Fatalf("a fourth wrapper: %v (served %d)", err, served.Load())
	}
}

func TestVASTWrapperFailures(t *testing.T) {
	a := newAssets(t)
	slot := Slot{Type: "video", Mime: MimeMP4, W: 64, H: 36}
	wrapper := func(uri, follow string) string {
		return `<VAST version="3.0"><Ad><Wrapper followAdditionalWrappers="` + follow + `"><VASTAdTagURI>` + uri + `</VASTAdTagURI></Wrapper></Ad></VAST>`
	}
	chain, _ := wrapperChain(t, a.URL+"/media/tiny.mp4")
	r := New(a.Client(), Config{})
	defer r.Close()
	tests := []struct {
		name, adm string
		reason    Reason
		detail    string
	}{
		{"404 behind the wrapper", wrapper(a.URL+"/vast/missing.xml", "true"), ReasonFetchFailed, "404"},
		{"not VAST behind the wrapper", wrapper(a.URL+"/text", "true"), ReasonUnrenderable, "behind VAST wrapper 1"},
		{"a wrapper where none may follow", wrapper(chain.URL+"/w/1", "false"), ReasonUnrenderable, "forbids further wrappers"},
		{"VAST for an image slot", wrapper(chain.URL+"/w/0", "true"), ReasonMismatch, "image slot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := slot
			if tt.reason == ReasonMismatch {
				s = Slot{Type: "image", Mime: MimePNG, W: 64, H: 36}
			}
			_, err := r.Markup(context.Background(), s, tt.adm, macros.Values{})
			if ReasonOf(err) != tt.reason || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("error %v, want %s with %q", err, tt.reason, tt.detail)
			}
		})
	}
}

func TestExpandVASTMacros(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 30, 0, 0, time.UTC)
	got := ExpandVASTMacros("http://127.0.0.1/v?cb=[CACHEBUSTING]&t=%5BTIMESTAMP%5D&e=[ERRORCODE]", now)
	cb, rest, _ := strings.Cut(strings.TrimPrefix(got, "http://127.0.0.1/v?cb="), "&")
	if len(cb) != 8 || strings.Trim(cb, "0123456789") != "" || rest != "t=2025-03-01T12%3A30%3A00.000Z&e=[ERRORCODE]" {
		t.Fatalf("got %q", got)
	}
	if u := "http://127.0.0.1/plain?a=1"; ExpandVASTMacros(u, now) != u {
		t.Fatal("a URL without macros changed")
	}
}
