package creative

import (
	"context"
	"errors"
	"math"

	"github.com/adshares/dsp-bridge/macros"
)

// vast resolves VAST markup: it follows the wrapper chain (at most
// MaxWrappers documents fetched, under the auction's deadline), picks a
// progressive media file of the slot's type closest to the slot's size,
// fetches it (through the cache) and collects the trackers of every
// document in the chain. The Adshares page plays a media file, never a VAST
// document (BROWSER.md), hence the resolution here.
func (r *Resolver) vast(ctx context.Context, slot Slot, adm string, v macros.Values) (*Creative, error) {
	ad, err := ParseVAST([]byte(adm))
	if err != nil {
		return nil, err
	}
	if slot.Type != "video" {
		return nil, refuse(ReasonMismatch, "VAST for a %s slot", slot.Type)
	}
	if slot.Mime != MimeMP4 && slot.Mime != MimeWebM {
		return nil, refuse(ReasonMismatch, "VAST for a %s slot (mp4 or webm only)", slot.Mime)
	}
	chain := []*VASTAd{ad}
	trackers := ad.trackers()
	for ad.WrapperURI != "" {
		if len(chain) > r.cfg.MaxWrappers {
			return nil, unrenderable("more than %d VAST wrappers", r.cfg.MaxWrappers)
		}
		next, err := r.wrapped(ctx, macros.ExpandAll(ad.WrapperURI, v), len(chain))
		if err != nil {
			return nil, err
		}
		if next.WrapperURI != "" && !ad.FollowWrappers {
			return nil, unrenderable("VAST wrapper %d forbids further wrappers but got one", len(chain))
		}
		if trackers += next.trackers(); trackers > MaxTrackers {
			return nil, unrenderable("%d tracking URLs in the VAST chain (max %d)", trackers, MaxTrackers)
		}
		chain = append(chain, next)
		ad = next
	}
	mf, err := pickMediaFile(ad.MediaFiles, slot)
	if err != nil {
		return nil, err
	}
	src := macros.ExpandAll(mf.URL, v)
	a, cached, cors, err := r.asset(ctx, src, acceptVideo)
	if err != nil {
		return nil, err
	}
	if err := checkVideo(a, slot); err != nil {
		return nil, err
	}
	c := fromAsset(PathVAST, a, cached, src)
	c.CORS = cors
	c.W, c.H, c.Wrappers = mf.W, mf.H, len(chain)-1
	// The click-through is the inline ad's; a wrapper's (not in the spec,
	// but seen) counts only when the inline ad has none, nearest first.
	for i := len(chain) - 1; i >= 0 && c.ClickURL == ""; i-- {
		c.ClickURL = macros.ExpandAll(chain[i].ClickThrough, v)
	}
	for _, d := range chain {
		c.ImpressionURLs = append(c.ImpressionURLs, expandAll(d.Impressions, v)...)
		c.ClickTrackers = append(c.ClickTrackers, expandAll(d.ClickTracking, v)...)
		c.ErrorURLs = append(c.ErrorURLs, expandAll(d.Errors, v)...)
		for _, t := range d.Tracking {
			t.URL = macros.ExpandAll(t.URL, v)
			c.Tracking = append(c.Tracking, t)
		}
	}
	return c, nil
}

// wrapped fetches and parses the document a wrapper points to. Wrapper
// documents are not cached: ad servers answer them per request.
func (r *Resolver) wrapped(ctx context.Context, uri string, depth int) (*VASTAd, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.FetchTimeout)
	defer cancel()
	r.wrapperFetches.Add(1)
	doc, _, err := fetch(ctx, r.f, ExpandVASTMacros(uri, r.cfg.Now()), acceptVAST, MaxMarkupBytes)
	if err != nil {
		return nil, err
	}
	ad, err := ParseVAST(doc)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Detail = "behind VAST wrapper " + itoa(depth) + ": " + e.Detail
		}
		return nil, err
	}
	return ad, nil
}

// pickMediaFile chooses, among the progressive files of the slot's type
// without an API framework (VPAID files need a player that runs them; the
// page has only <video>), the one whose size is closest to the slot's, in
// scale (|ln(w/W)| + |ln(h/H)|), the lower bitrate on a tie.
func pickMediaFile(files []MediaFile, slot Slot) (MediaFile, error) {
	best, bestD, otherType := -1, math.Inf(1), false
	for i, m := range files {
		if m.APIFramework != "" || (m.Delivery != "" && m.Delivery != "progressive") {
			continue
		}
		if m.Type != MimeMP4 && m.Type != MimeWebM {
			continue
		}
		if m.Type != slot.Mime {
			otherType = true
			continue
		}
		d := sizeDistance(m.W, m.H, slot.W, slot.H)
		if d < bestD || (d == bestD && m.Bitrate > 0 && m.Bitrate < files[best].Bitrate) {
			best, bestD = i, d
		}
	}
	switch {
	case best >= 0:
		return files[best], nil
	case otherType:
		return MediaFile{}, refuse(ReasonMismatch, "VAST has no %s media file", slot.Mime)
	}
	return MediaFile{}, unrenderable("VAST has no progressive mp4/webm media file (only VPAID, streaming or other types)")
}

func sizeDistance(w, h, sw, sh int) float64 {
	if w <= 0 || h <= 0 || sw <= 0 || sh <= 0 {
		return math.MaxFloat64 // eligible, but after every file with a size
	}
	return math.Abs(math.Log(float64(w)/float64(sw))) + math.Abs(math.Log(float64(h)/float64(sh)))
}
