package auction

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// The BidRequest each DSP is sent is written by hand (appendBidRequest)
// rather than by encoding/json's reflection, which was about a tenth of
// the bridge's CPU under load. The bytes are exactly encoding/json's:
// fields in declaration order, its omitempty rules, its escaping, float
// form and RawMessage compaction, as TestRequestJSONFixtures and
// FuzzRequestJSON check against encoding/json itself. A request using a
// part of OpenRTB the bridge never fills (app, native, pmp, eids, ...) or
// holding a value encoding/json refuses is left to encoding/json whole,
// so correctness never depends on covering all of OpenRTB.

// requestFallbacks counts requests encoded by encoding/json instead of
// appendBidRequest; the fixture test requires that none of its requests do.
var requestFallbacks atomic.Uint64

// requestEncoded, when set (tests only), sees each request and the JSON
// it became, so a test can compare them with encoding/json's.
var requestEncoded atomic.Pointer[func(*openrtb2.BidRequest, []byte)]

// appendRequestJSON appends r as json.NewEncoder(w).Encode(r) writes it,
// trailing newline included.
func appendRequestJSON(dst []byte, r *openrtb2.BidRequest) ([]byte, error) {
	out, ok := appendBidRequest(dst, r)
	if !ok {
		requestFallbacks.Add(1)
		buf := bytes.NewBuffer(dst)
		if err := json.NewEncoder(buf).Encode(r); err != nil {
			return dst, err
		}
		out = buf.Bytes()
	} else {
		out = append(out, '\n')
	}
	if hook := requestEncoded.Load(); hook != nil {
		(*hook)(r, out[len(dst):])
	}
	return out, nil
}

// appendBidRequest appends r as encoding/json marshals it (no newline).
// ok is false when r holds something it does not cover or that
// encoding/json would refuse; dst is then returned unchanged.
func appendBidRequest(dst []byte, r *openrtb2.BidRequest) (_ []byte, ok bool) {
	if r == nil {
		return append(dst, "null"...), true
	}
	if r.App != nil || r.DOOH != nil {
		return dst, false
	}
	e := reqEnc{b: dst}
	e.open('{')
	e.key(`"id":`)
	e.quote(r.ID)
	e.key(`"imp":`)
	if r.Imp == nil {
		e.b = append(e.b, "null"...)
		e.comma = true
	} else {
		e.open('[')
		for i := range r.Imp {
			e.next()
			e.imp(&r.Imp[i])
		}
		e.close(']')
	}
	if r.Site != nil {
		e.key(`"site":`)
		e.site(r.Site)
	}
	if r.Device != nil {
		e.key(`"device":`)
		e.device(r.Device)
	}
	if r.User != nil {
		e.key(`"user":`)
		e.user(r.User)
	}
	num(&e, `"test":`, r.Test)
	num(&e, `"at":`, r.AT)
	num(&e, `"tmax":`, r.TMax)
	e.strs(`"wseat":`, r.WSeat)
	e.strs(`"bseat":`, r.BSeat)
	num(&e, `"allimps":`, r.AllImps)
	e.strs(`"cur":`, r.Cur)
	e.strs(`"wlang":`, r.WLang)
	e.strs(`"wlangb":`, r.WLangB)
	e.strs(`"acat":`, r.ACat)
	e.strs(`"bcat":`, r.BCat)
	num(&e, `"cattax":`, r.CatTax)
	e.strs(`"badv":`, r.BAdv)
	e.strs(`"bapp":`, r.BApp)
	if r.Source != nil {
		e.key(`"source":`)
		e.source(r.Source)
	}
	if r.Regs != nil {
		e.key(`"regs":`)
		e.regs(r.Regs)
	}
	e.raw(`"ext":`, r.Ext)
	e.close('}')
	if e.bad {
		return dst, false
	}
	return e.b, true
}

func (e *reqEnc) imp(m *openrtb2.Imp) {
	if len(m.Metric) > 0 || m.Audio != nil || m.Native != nil || m.PMP != nil || m.Qty != nil || m.Refresh != nil {
		e.bad = true
		return
	}
	e.open('{')
	e.key(`"id":`)
	e.quote(m.ID)
	if m.Banner != nil {
		e.key(`"banner":`)
		e.banner(m.Banner)
	}
	if m.Video != nil {
		e.key(`"video":`)
		e.video(m.Video)
	}
	e.str(`"displaymanager":`, m.DisplayManager)
	e.str(`"displaymanagerver":`, m.DisplayManagerVer)
	num(e, `"instl":`, m.Instl)
	e.str(`"tagid":`, m.TagID)
	e.float(`"bidfloor":`, m.BidFloor)
	e.str(`"bidfloorcur":`, m.BidFloorCur)
	ptr(e, `"clickbrowser":`, m.ClickBrowser)
	ptr(e, `"secure":`, m.Secure)
	e.strs(`"iframebuster":`, m.IframeBuster)
	num(e, `"rwdd":`, m.Rwdd)
	num(e, `"ssai":`, m.SSAI)
	num(e, `"exp":`, m.Exp)
	e.float(`"dt":`, m.DT)
	e.raw(`"ext":`, m.Ext)
	e.close('}')
}

func (e *reqEnc) banner(b *openrtb2.Banner) {
	e.open('{')
	if len(b.Format) > 0 {
		e.key(`"format":`)
		e.open('[')
		for i := range b.Format {
			f := &b.Format[i]
			e.next()
			e.open('{')
			num(e, `"w":`, f.W)
			num(e, `"h":`, f.H)
			num(e, `"wratio":`, f.WRatio)
			num(e, `"hratio":`, f.HRatio)
			num(e, `"wmin":`, f.WMin)
			e.raw(`"ext":`, f.Ext)
			e.close('}')
		}
		e.close(']')
	}
	ptr(e, `"w":`, b.W)
	ptr(e, `"h":`, b.H)
	num(e, `"wmax":`, b.WMax)
	num(e, `"hmax":`, b.HMax)
	num(e, `"wmin":`, b.WMin)
	num(e, `"hmin":`, b.HMin)
	nums(e, `"btype":`, b.BType)
	nums(e, `"battr":`, b.BAttr)
	ptr(e, `"pos":`, b.Pos)
	e.strs(`"mimes":`, b.MIMEs)
	num(e, `"topframe":`, b.TopFrame)
	nums(e, `"expdir":`, b.ExpDir)
	nums(e, `"api":`, b.API)
	e.str(`"id":`, b.ID)
	ptr(e, `"vcm":`, b.Vcm)
	e.raw(`"ext":`, b.Ext)
	e.close('}')
}

func (e *reqEnc) video(v *openrtb2.Video) {
	if len(v.CompanionAd) > 0 || len(v.DurFloors) > 0 {
		e.bad = true
		return
	}
	e.open('{')
	e.strArray(`"mimes":`, v.MIMEs)
	num(e, `"minduration":`, v.MinDuration)
	num(e, `"maxduration":`, v.MaxDuration)
	ptr(e, `"startdelay":`, v.StartDelay)
	num(e, `"maxseq":`, v.MaxSeq)
	num(e, `"poddur":`, v.PodDur)
	nums(e, `"protocols":`, v.Protocols)
	num(e, `"protocol":`, v.Protocol)
	ptr(e, `"w":`, v.W)
	ptr(e, `"h":`, v.H)
	e.str(`"podid":`, v.PodID)
	num(e, `"podseq":`, v.PodSeq)
	nums(e, `"rqddurs":`, v.RqdDurs)
	num(e, `"placement":`, v.Placement)
	num(e, `"plcmt":`, v.Plcmt)
	num(e, `"linearity":`, v.Linearity)
	ptr(e, `"skip":`, v.Skip)
	num(e, `"skipmin":`, v.SkipMin)
	num(e, `"skipafter":`, v.SkipAfter)
	num(e, `"sequence":`, v.Sequence)
	num(e, `"slotinpod":`, v.SlotInPod)
	e.float(`"mincpmpersec":`, v.MinCPMPerSec)
	nums(e, `"battr":`, v.BAttr)
	num(e, `"maxextended":`, v.MaxExtended)
	num(e, `"minbitrate":`, v.MinBitRate)
	num(e, `"maxbitrate":`, v.MaxBitRate)
	ptr(e, `"boxingallowed":`, v.BoxingAllowed)
	nums(e, `"playbackmethod":`, v.PlaybackMethod)
	num(e, `"playbackend":`, v.PlaybackEnd)
	nums(e, `"delivery":`, v.Delivery)
	ptr(e, `"pos":`, v.Pos)
	nums(e, `"api":`, v.API)
	nums(e, `"companiontype":`, v.CompanionType)
	nums(e, `"poddedupe":`, v.PodDedupe)
	e.raw(`"ext":`, v.Ext)
	e.close('}')
}

func (e *reqEnc) site(s *openrtb2.Site) {
	if s.Content != nil {
		e.bad = true
		return
	}
	e.open('{')
	e.str(`"id":`, s.ID)
	e.str(`"name":`, s.Name)
	e.str(`"domain":`, s.Domain)
	num(e, `"cattax":`, s.CatTax)
	e.strs(`"cat":`, s.Cat)
	e.strs(`"sectioncat":`, s.SectionCat)
	e.strs(`"pagecat":`, s.PageCat)
	e.str(`"page":`, s.Page)
	e.str(`"ref":`, s.Ref)
	e.str(`"search":`, s.Search)
	ptr(e, `"mobile":`, s.Mobile)
	ptr(e, `"privacypolicy":`, s.PrivacyPolicy)
	if p := s.Publisher; p != nil {
		e.key(`"publisher":`)
		e.open('{')
		e.str(`"id":`, p.ID)
		e.str(`"name":`, p.Name)
		num(e, `"cattax":`, p.CatTax)
		e.strs(`"cat":`, p.Cat)
		e.str(`"domain":`, p.Domain)
		e.raw(`"ext":`, p.Ext)
		e.close('}')
	}
	e.str(`"keywords":`, s.Keywords)
	e.strs(`"kwarray":`, s.KwArray)
	e.str(`"inventorypartnerdomain":`, s.InventoryPartnerDomain)
	e.raw(`"ext":`, s.Ext)
	e.close('}')
}

func (e *reqEnc) device(d *openrtb2.Device) {
	if d.SUA != nil {
		e.bad = true
		return
	}
	e.open('{')
	if d.Geo != nil {
		e.key(`"geo":`)
		e.geo(d.Geo)
	}
	ptr(e, `"dnt":`, d.DNT)
	ptr(e, `"lmt":`, d.Lmt)
	e.str(`"ua":`, d.UA)
	e.str(`"ip":`, d.IP)
	e.str(`"ipv6":`, d.IPv6)
	num(e, `"devicetype":`, d.DeviceType)
	e.str(`"make":`, d.Make)
	e.str(`"model":`, d.Model)
	e.str(`"os":`, d.OS)
	e.str(`"osv":`, d.OSV)
	e.str(`"hwv":`, d.HWV)
	num(e, `"h":`, d.H)
	num(e, `"w":`, d.W)
	num(e, `"ppi":`, d.PPI)
	e.float(`"pxratio":`, d.PxRatio)
	ptr(e, `"js":`, d.JS)
	ptr(e, `"geofetch":`, d.GeoFetch)
	e.str(`"flashver":`, d.FlashVer)
	e.str(`"language":`, d.Language)
	e.str(`"langb":`, d.LangB)
	e.str(`"carrier":`, d.Carrier)
	e.str(`"mccmnc":`, d.MCCMNC)
	ptr(e, `"connectiontype":`, d.ConnectionType)
	e.str(`"ifa":`, d.IFA)
	e.str(`"didsha1":`, d.DIDSHA1)
	e.str(`"didmd5":`, d.DIDMD5)
	e.str(`"dpidsha1":`, d.DPIDSHA1)
	e.str(`"dpidmd5":`, d.DPIDMD5)
	e.str(`"macsha1":`, d.MACSHA1)
	e.str(`"macmd5":`, d.MACMD5)
	e.raw(`"ext":`, d.Ext)
	e.close('}')
}

func (e *reqEnc) geo(g *openrtb2.Geo) {
	e.open('{')
	e.floatPtr(`"lat":`, g.Lat)
	e.floatPtr(`"lon":`, g.Lon)
	num(e, `"type":`, g.Type)
	num(e, `"accuracy":`, g.Accuracy)
	num(e, `"lastfix":`, g.LastFix)
	num(e, `"ipservice":`, g.IPService)
	e.str(`"country":`, g.Country)
	e.str(`"region":`, g.Region)
	e.str(`"regionfips104":`, g.RegionFIPS104)
	e.str(`"metro":`, g.Metro)
	e.str(`"city":`, g.City)
	e.str(`"zip":`, g.ZIP)
	num(e, `"utcoffset":`, g.UTCOffset)
	e.raw(`"ext":`, g.Ext)
	e.close('}')
}

func (e *reqEnc) user(u *openrtb2.User) {
	if len(u.Data) > 0 || len(u.EIDs) > 0 {
		e.bad = true
		return
	}
	e.open('{')
	e.str(`"id":`, u.ID)
	e.str(`"buyeruid":`, u.BuyerUID)
	num(e, `"yob":`, u.Yob)
	e.str(`"gender":`, u.Gender)
	e.str(`"keywords":`, u.Keywords)
	e.strs(`"kwarray":`, u.KwArray)
	e.str(`"customdata":`, u.CustomData)
	if u.Geo != nil {
		e.key(`"geo":`)
		e.geo(u.Geo)
	}
	e.str(`"consent":`, u.Consent)
	e.raw(`"ext":`, u.Ext)
	e.close('}')
}

func (e *reqEnc) source(s *openrtb2.Source) {
	e.open('{')
	ptr(e, `"fd":`, s.FD)
	e.str(`"tid":`, s.TID)
	e.str(`"pchain":`, s.PChain)
	if c := s.SChain; c != nil {
		e.key(`"schain":`)
		e.open('{')
		e.key(`"complete":`)
		e.int(int64(c.Complete))
		e.key(`"nodes":`)
		if c.Nodes == nil {
			e.b = append(e.b, "null"...)
			e.comma = true
		} else {
			e.open('[')
			for i := range c.Nodes {
				n := &c.Nodes[i]
				e.next()
				e.open('{')
				e.key(`"asi":`)
				e.quote(n.ASI)
				e.key(`"sid":`)
				e.quote(n.SID)
				e.str(`"rid":`, n.RID)
				e.str(`"name":`, n.Name)
				e.str(`"domain":`, n.Domain)
				ptr(e, `"hp":`, n.HP)
				e.raw(`"ext":`, n.Ext)
				e.close('}')
			}
			e.close(']')
		}
		e.key(`"ver":`)
		e.quote(c.Ver)
		e.raw(`"ext":`, c.Ext)
		e.close('}')
	}
	e.raw(`"ext":`, s.Ext)
	e.close('}')
}

func (e *reqEnc) regs(g *openrtb2.Regs) {
	e.open('{')
	num(e, `"coppa":`, g.COPPA)
	ptr(e, `"gdpr":`, g.GDPR)
	e.str(`"us_privacy":`, g.USPrivacy)
	e.str(`"gpp":`, g.GPP)
	nums(e, `"gpp_sid":`, g.GPPSID)
	e.raw(`"ext":`, g.Ext)
	e.close('}')
}

// requestScratch recycles the JSON of gzipped requests: only the
// compressed copy reaches the transport, so the JSON is free once
// compressed. maxPooledScratch keeps one huge request from pinning memory.
var requestScratch = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

const maxPooledScratch = 64 << 10

// encodeRequest is the body to send for req, in a buffer of its own
// (never pooled: the transport may read it after Do returns) with room for
// hint bytes, gzipped for a DSP that takes gzip; kept is the JSON (no
// newline) when the DSP's payloads are captured.
func (c *dspClient) encodeRequest(req *openrtb2.BidRequest, hint int64) (body, kept []byte, err error) {
	if !c.cfg.Gzip {
		body, err = appendRequestJSON(make([]byte, 0, hint), req)
		if c.capture && err == nil {
			kept = bytes.Clone(body[:len(body)-1])
		}
		return body, kept, err
	}
	scratch := requestScratch.Get().(*[]byte)
	defer func() {
		if cap(*scratch) <= maxPooledScratch {
			requestScratch.Put(scratch)
		}
	}()
	js, err := appendRequestJSON((*scratch)[:0], req)
	*scratch = js[:0]
	if err != nil {
		return nil, nil, err
	}
	if c.capture {
		kept = bytes.Clone(js[:len(js)-1])
	}
	buf := bytes.NewBuffer(make([]byte, 0, hint))
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(buf)
	_, err = zw.Write(js) // one write, as Encoder.Encode made: the same compressed bytes
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	zw.Reset(nil) // let go of buf
	gzipWriters.Put(zw)
	return buf.Bytes(), kept, err
}
