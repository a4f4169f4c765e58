package auction

import (
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// vastProtocols are the VAST versions the bridge resolves (creative/):
// 2.0 to 4.2, inline and wrappers. VAST 1.0 and DAAST are not among them.
var vastProtocols = []adcom1.MediaCreativeSubtype{
	adcom1.CreativeVAST20, adcom1.CreativeVAST30, adcom1.CreativeVAST20Wrapper, adcom1.CreativeVAST30Wrapper,
	adcom1.CreativeVAST40, adcom1.CreativeVAST40Wrapper, adcom1.CreativeVAST41, adcom1.CreativeVAST41Wrapper,
	adcom1.CreativeVAST42, adcom1.CreativeVAST42Wrapper,
}

// videoOf is the imp.video of a video slot: the page plays a progressive
// file of the slot's mime in a muted <video> (BROWSER.md), so the bridge
// asks for VAST with such a file and no API framework (no VPAID), at the
// slot's size. The banner stays beside it for DSPs of the Adshares profile,
// whose nurl answers the file itself.
func videoOf(s Slot) *openrtb2.Video {
	w, h := s.Creative.W, s.Creative.H
	return &openrtb2.Video{
		MIMEs:     slotMimes(s),
		Protocols: vastProtocols,
		W:         &w,
		H:         &h,
		Delivery:  []adcom1.DeliveryMethod{adcom1.DeliveryProgressive},
	}
}

// video25 drops the protocols OpenRTB 2.5 does not list (VAST 4.1 and 4.2
// came with 2.6): a strict 2.5 DSP may refuse unknown values.
func video25(v *openrtb2.Video) *openrtb2.Video {
	c := *v
	c.Protocols = nil
	for _, p := range v.Protocols {
		if p <= adcom1.CreativeDAAST10Wrapper {
			c.Protocols = append(c.Protocols, p)
		}
	}
	return &c
}
