package auction

import (
	"slices"
	"strconv"
	"strings"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/config"
)

// blockLists is what one DSP must not bid with: blocking.* and its own
// dsps[].blocking together (a DSP's lists add to the defaults; they never
// unblock), with every named preset expanded. Sent as bcat, badv and
// imp.banner.battr, and enforced on the bids (validate), since a DSP may
// ignore them.
type blockLists struct {
	presets []string
	bcat    []string // upper case, sorted, unique
	badv    []string // lower case, sorted, unique
	battr   []adcom1.CreativeAttribute
}

func newBlockLists(defaults, own config.Blocking) blockLists {
	var b blockLists
	var cats, advs []string
	var attrs []int
	for _, src := range []config.Blocking{defaults, own} {
		for _, name := range src.Presets {
			b.presets = append(b.presets, name)
			p := config.BlockingPresets[name]
			cats, advs, attrs = append(cats, p.BCat...), append(advs, p.BAdv...), append(attrs, p.BAttr...)
		}
		cats, advs, attrs = append(cats, src.BCat...), append(advs, src.BAdv...), append(attrs, src.BAttr...)
	}
	for _, c := range cats {
		b.bcat = append(b.bcat, config.NormalizeCategory(c))
	}
	for _, d := range advs {
		b.badv = append(b.badv, advertiserDomain(d))
	}
	slices.Sort(b.bcat)
	b.bcat = slices.Compact(b.bcat)
	slices.Sort(b.badv)
	b.badv = slices.Compact(b.badv)
	slices.Sort(attrs)
	for _, a := range slices.Compact(attrs) {
		b.battr = append(b.battr, adcom1.CreativeAttribute(a))
	}
	b.presets = slices.Compact(b.presets)
	return b
}

// apply writes the lists into the DSP's request. imp.banner is copied:
// the base request's banners are shared by every DSP.
func (b *blockLists) apply(r *openrtb2.BidRequest) {
	r.BCat, r.BAdv = b.bcat, b.badv
	if len(b.battr) == 0 {
		return
	}
	for i := range r.Imp {
		if r.Imp[i].Banner != nil {
			bn := *r.Imp[i].Banner
			bn.BAttr = b.battr
			r.Imp[i].Banner = &bn
		}
	}
}

// blockedCategory returns the first of cats that bcat blocks: the code
// itself, or its tier-1 parent (blocking IAB7 blocks IAB7-39 too).
func (b *blockLists) blockedCategory(cats []string) (string, bool) {
	for _, c := range cats {
		c = config.NormalizeCategory(c)
		parent, _, _ := strings.Cut(c, "-")
		if _, ok := slices.BinarySearch(b.bcat, c); ok {
			return c, true
		}
		if _, ok := slices.BinarySearch(b.bcat, parent); ok {
			return c, true
		}
	}
	return "", false
}

// blockedAdvertiser returns the first of domains that badv blocks: the
// domain itself or a subdomain of a blocked one.
func (b *blockLists) blockedAdvertiser(domains []string) (string, bool) {
	for _, d := range domains {
		d = advertiserDomain(d)
		for _, blocked := range b.badv {
			if d == blocked || strings.HasSuffix(d, "."+blocked) {
				return d, true
			}
		}
	}
	return "", false
}

// blockedAttribute returns the first of attrs that battr blocks.
func (b *blockLists) blockedAttribute(attrs []int64) (int64, bool) {
	for _, a := range attrs {
		if slices.Contains(b.battr, adcom1.CreativeAttribute(a)) {
			return a, true
		}
	}
	return 0, false
}

// advertiserDomain is a domain as block lists compare it: lower case,
// without scheme, path, port or a leading "www." (DSPs send
// "https://www.shop.example/" as often as "shop.example").
func advertiserDomain(d string) string {
	d = strings.ToLower(strings.TrimSpace(d))
	if _, rest, ok := strings.Cut(d, "://"); ok {
		d = rest
	}
	if i := strings.IndexAny(d, "/?#"); i >= 0 {
		d = d[:i]
	}
	if h, _, ok := strings.Cut(d, ":"); ok {
		d = h
	}
	return strings.TrimSuffix(strings.TrimPrefix(d, "www."), ".")
}

// summary is the lists as `dsp probe` prints them.
func (b *blockLists) summary() string {
	var parts []string
	if len(b.presets) > 0 {
		parts = append(parts, "presets "+strings.Join(b.presets, ","))
	}
	if len(b.bcat) > 0 {
		parts = append(parts, "bcat "+strings.Join(b.bcat, ","))
	}
	if len(b.badv) > 0 {
		parts = append(parts, "badv "+strings.Join(b.badv, ","))
	}
	if len(b.battr) > 0 {
		var a []string
		for _, x := range b.battr {
			a = append(a, strconv.Itoa(int(x)))
		}
		parts = append(parts, "battr "+strings.Join(a, ","))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}
