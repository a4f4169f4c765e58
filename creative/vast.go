package creative

import (
	"bytes"
	"encoding/xml"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/html/charset"
)

// VASTAd is the one ad of a VAST document the bridge uses (the first Ad
// with an InLine or a Wrapper), flattened to what resolution needs.
type VASTAd struct {
	Version string
	// WrapperURI is the wrapper's VASTAdTagURI ("" for an inline ad).
	WrapperURI string
	// FollowWrappers is false when a wrapper forbids the document it points
	// to from being another wrapper (followAdditionalWrappers="false").
	FollowWrappers bool
	Impressions    []string
	Errors         []string
	Tracking       []TrackingEvent
	ClickThrough   string
	ClickTracking  []string
	MediaFiles     []MediaFile // inline ads only
}

// TrackingEvent is one VAST Tracking URL of a linear creative.
type TrackingEvent struct {
	Event  string // start, firstQuartile, midpoint, complete, progress, ...
	Offset string // progress events only
	URL    string
}

// MediaFile is one VAST MediaFile.
type MediaFile struct {
	URL          string
	Type         string // the MIME type, lowercased, without parameters
	Delivery     string // progressive or streaming
	APIFramework string // VPAID for interactive files
	W, H         int
	Bitrate      int
}

// MaxTrackers is the most tracking URLs (impressions, events, click
// trackers, errors) accepted across a wrapper chain: the bridge fires them
// itself, and hundreds would make it a request amplifier.
const MaxTrackers = 64

var vastVersion = regexp.MustCompile(`^[234](\.[0-9]+){0,2}$`)

type xmlVAST struct {
	XMLName xml.Name `xml:"VAST"`
	Version string   `xml:"version,attr"`
	Ads     []xmlAd  `xml:"Ad"`
}

type xmlAd struct {
	InLine  *xmlAdBody `xml:"InLine"`
	Wrapper *xmlAdBody `xml:"Wrapper"`
}

// xmlAdBody is the part of InLine and Wrapper the bridge reads (a wrapper has
// no MediaFiles, an inline ad no VASTAdTagURI).
type xmlAdBody struct {
	Follow      string        `xml:"followAdditionalWrappers,attr"`
	TagURI      string        `xml:"VASTAdTagURI"`
	Impressions []string      `xml:"Impression"`
	Errors      []string      `xml:"Error"`
	Creatives   []xmlCreative `xml:"Creatives>Creative"`
}

type xmlCreative struct {
	Linear *struct {
		Tracking []struct {
			Event  string `xml:"event,attr"`
			Offset string `xml:"offset,attr"`
			URL    string `xml:",chardata"`
		} `xml:"TrackingEvents>Tracking"`
		ClickThrough  string   `xml:"VideoClicks>ClickThrough"`
		ClickTracking []string `xml:"VideoClicks>ClickTracking"`
		MediaFiles    []struct {
			Delivery     string `xml:"delivery,attr"`
			Type         string `xml:"type,attr"`
			Width        string `xml:"width,attr"`
			Height       string `xml:"height,attr"`
			Bitrate      string `xml:"bitrate,attr"`
			APIFramework string `xml:"apiFramework,attr"`
			URL          string `xml:",chardata"`
		} `xml:"MediaFiles>MediaFile"`
	} `xml:"Linear"`
}

// ParseVAST reads a VAST 2.0-4.x document (encoding/xml: no DTDs, no
// external entities; other charsets than UTF-8 by their label). Tracking URLs
// that are not absolute http(s) are dropped; a document without an ad, with
// an unknown version, a wrapper without a valid VASTAdTagURI or more than
// MaxTrackers URLs is refused (unrenderable_markup).
func ParseVAST(doc []byte) (*VASTAd, error) {
	if len(doc) > MaxMarkupBytes {
		return nil, refuse(ReasonTooLarge, "VAST document of %d bytes (max %d)", len(doc), MaxMarkupBytes)
	}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.CharsetReader = charset.NewReaderLabel
	var v xmlVAST
	if err := dec.Decode(&v); err != nil {
		return nil, unrenderable("not a VAST document: %s", clip(err.Error()))
	}
	out := &VASTAd{Version: strings.TrimSpace(v.Version), FollowWrappers: true}
	if !vastVersion.MatchString(out.Version) {
		return nil, unrenderable("VAST version %q (2.0-4.x are supported)", clip(out.Version))
	}
	var body *xmlAdBody
	for _, ad := range v.Ads {
		if ad.InLine != nil {
			body = ad.InLine
			break
		}
		if ad.Wrapper != nil {
			body = ad.Wrapper
			out.WrapperURI = strings.TrimSpace(body.TagURI)
			if out.WrapperURI == "" {
				return nil, unrenderable("VAST wrapper without VASTAdTagURI")
			}
			u, ok := absURL(out.WrapperURI)
			if !ok {
				return nil, unrenderable("VASTAdTagURI %q is not an absolute http(s) URL", clip(out.WrapperURI))
			}
			out.WrapperURI = u
			out.FollowWrappers = !strings.EqualFold(strings.TrimSpace(body.Follow), "false")
			break
		}
	}
	if body == nil {
		return nil, unrenderable("VAST without an ad")
	}
	out.Impressions = urls(body.Impressions)
	out.Errors = urls(body.Errors)
	for _, c := range body.Creatives {
		l := c.Linear
		if l == nil {
			continue
		}
		for _, t := range l.Tracking {
			if u, ok := absURL(t.URL); ok {
				out.Tracking = append(out.Tracking, TrackingEvent{Event: strings.TrimSpace(t.Event), Offset: strings.TrimSpace(t.Offset), URL: u})
			}
		}
		if u, ok := absURL(l.ClickThrough); ok && out.ClickThrough == "" {
			out.ClickThrough = u
		}
		out.ClickTracking = append(out.ClickTracking, urls(l.ClickTracking)...)
		if out.WrapperURI != "" {
			continue
		}
		for _, m := range l.MediaFiles {
			u, ok := absURL(m.URL)
			if !ok {
				continue
			}
			typ, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(m.Type)), ";")
			out.MediaFiles = append(out.MediaFiles, MediaFile{
				URL: u, Type: strings.TrimSpace(typ), Delivery: strings.ToLower(strings.TrimSpace(m.Delivery)),
				APIFramework: strings.TrimSpace(m.APIFramework),
				W:            atoi(m.Width), H: atoi(m.Height), Bitrate: atoi(m.Bitrate),
			})
		}
	}
	if n := out.trackers(); n > MaxTrackers {
		return nil, unrenderable("%d tracking URLs (max %d)", n, MaxTrackers)
	}
	return out, nil
}

func (a *VASTAd) trackers() int {
	return len(a.Impressions) + len(a.Errors) + len(a.Tracking) + len(a.ClickTracking)
}

// urls keeps the valid absolute http(s) URLs of VAST elements.
func urls(in []string) []string {
	var out []string
	for _, s := range in {
		if u, ok := absURL(s); ok {
			out = append(out, u)
		}
	}
	return out
}

func atoi(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return n
}
