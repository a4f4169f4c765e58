package creative

import (
	"encoding/base64"
	"strings"

	"github.com/adshares/dsp-bridge/inventory"
)

// Path is how a creative was found.
type Path string

// Resolution paths.
const (
	PathMarkupImage Path = "markup_image" // the <img> of image markup in adm
	PathVAST        Path = "vast"         // a MediaFile of VAST in adm (through its wrappers)
	PathNURL        Path = "nurl"         // the body of the nurl (the Adshares OpenRTB profile)
)

// Slot is the inventory creative a bid fills: what its bytes must be.
type Slot struct {
	Type string // image or video
	Mime string // image/png, image/jpeg, image/gif, image/webp, video/mp4, video/webm
	W, H int
}

// SlotOf is the slot of an inventory creative.
func SlotOf(c *inventory.Creative) Slot {
	return Slot{Type: c.Type, Mime: c.Mime, W: int(c.W), H: int(c.H)}
}

// Creative is a resolved creative: the bytes the Adshares page shows and
// what the auction needs for delivery, clicks and notices.
type Creative struct {
	Path Path
	// Bytes are shared with the cache and other resolutions: never modify them.
	Bytes       []byte
	ContentType string // from the bytes, not from the server's Content-Type
	SHA1        string // lowercase hex, as the Adshares page compares a banner hash
	// W and H are the image's decoded size, or the chosen VAST MediaFile's
	// declared size.
	W, H      int
	SourceURL string // the image, media file or nurl the bytes came from
	// ClickURL is the click-through: the image's link or the VAST
	// ClickThrough ("" when the markup has none).
	ClickURL string
	// ImpressionURLs are the markup's tracking pixels or the VAST Impression
	// URLs of the whole wrapper chain: fired when the view arrives.
	ImpressionURLs []string
	// Tracking, ClickTrackers and ErrorURLs are the VAST Tracking,
	// ClickTracking and Error URLs of the whole wrapper chain.
	Tracking      []TrackingEvent
	ClickTrackers []string
	ErrorURLs     []string
	Wrappers      int  // VAST wrappers followed
	Cached        bool // the bytes came from the cache: no fetch was made
	// CORS: every hop of the fetch of SourceURL (redirects included)
	// answered Access-Control-Allow-Origin: *, when it was first fetched,
	// so the browser could fetch SourceURL itself (creatives.delivery:
	// direct).
	CORS bool
}

// DataURI is the creative as a data: URI (base64), the `inline` delivery's
// serve_url: the Adshares page fetches data: URLs like any other, without
// CORS or a public endpoint (BROWSER.md).
func (c *Creative) DataURI() string {
	var b strings.Builder
	b.Grow(len("data:;base64,") + len(c.ContentType) + base64.StdEncoding.EncodedLen(len(c.Bytes)))
	b.WriteString("data:")
	b.WriteString(c.ContentType)
	b.WriteString(";base64,")
	b.WriteString(base64.StdEncoding.EncodeToString(c.Bytes))
	return b.String()
}

// InlineServeURL is the data: URI of the creative if its bytes are at most
// maxBytes (creatives.inline_max_bytes), else a creative_too_large error:
// the serve_url travels in the /bid answer, so large creatives need public
// delivery.
func (c *Creative) InlineServeURL(maxBytes int) (string, error) {
	if len(c.Bytes) > maxBytes {
		return "", refuse(ReasonTooLarge, "%d bytes is more than the %d of inline delivery", len(c.Bytes), maxBytes)
	}
	return c.DataURI(), nil
}
