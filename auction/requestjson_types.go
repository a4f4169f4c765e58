package auction

import (
	"strconv"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// The appenders of the OpenRTB objects the bridge fills, each field in
// the struct's declaration order (encoding/json's order) with the
// omitempty of its tag. The objects the bridge never fills set bad.

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
	var bad bool
	b := appendJSONString(append(dst, `{"id":`...), r.ID)
	b = append(b, `,"imp":`...)
	if r.Imp == nil {
		b = append(b, "null"...)
	} else {
		start := len(b)
		for i := range r.Imp {
			b = appendImp(append(b, ','), &bad, &r.Imp[i])
		}
		b = closeArr(b, start)
	}
	if r.Site != nil {
		b = appendSite(append(b, `,"site":`...), &bad, r.Site)
	}
	if r.Device != nil {
		b = appendDevice(append(b, `,"device":`...), &bad, r.Device)
	}
	if r.User != nil {
		b = appendUser(append(b, `,"user":`...), &bad, r.User)
	}
	b = aNum(b, `,"test":`, r.Test)
	b = aNum(b, `,"at":`, r.AT)
	b = aNum(b, `,"tmax":`, r.TMax)
	b = aStrs(b, `,"wseat":`, r.WSeat)
	b = aStrs(b, `,"bseat":`, r.BSeat)
	b = aNum(b, `,"allimps":`, r.AllImps)
	b = aStrs(b, `,"cur":`, r.Cur)
	b = aStrs(b, `,"wlang":`, r.WLang)
	b = aStrs(b, `,"wlangb":`, r.WLangB)
	b = aStrs(b, `,"acat":`, r.ACat)
	b = aStrs(b, `,"bcat":`, r.BCat)
	b = aNum(b, `,"cattax":`, r.CatTax)
	b = aStrs(b, `,"badv":`, r.BAdv)
	b = aStrs(b, `,"bapp":`, r.BApp)
	if r.Source != nil {
		b = appendSource(append(b, `,"source":`...), &bad, r.Source)
	}
	if r.Regs != nil {
		b = appendRegs(append(b, `,"regs":`...), &bad, r.Regs)
	}
	b = aRaw(b, &bad, `,"ext":`, r.Ext)
	b = append(b, '}')
	if bad {
		return dst, false
	}
	return b, true
}

func appendImp(b []byte, bad *bool, m *openrtb2.Imp) []byte {
	if len(m.Metric) > 0 || m.Audio != nil || m.Native != nil || m.PMP != nil || m.Qty != nil || m.Refresh != nil {
		*bad = true
		return b
	}
	b = appendJSONString(append(b, `{"id":`...), m.ID)
	if m.Banner != nil {
		b = appendBanner(append(b, `,"banner":`...), bad, m.Banner)
	}
	if m.Video != nil {
		b = appendVideo(append(b, `,"video":`...), bad, m.Video)
	}
	b = aStr(b, `,"displaymanager":`, m.DisplayManager)
	b = aStr(b, `,"displaymanagerver":`, m.DisplayManagerVer)
	b = aNum(b, `,"instl":`, m.Instl)
	b = aStr(b, `,"tagid":`, m.TagID)
	b = aFloat(b, bad, `,"bidfloor":`, m.BidFloor)
	b = aStr(b, `,"bidfloorcur":`, m.BidFloorCur)
	b = aPtr(b, `,"clickbrowser":`, m.ClickBrowser)
	b = aPtr(b, `,"secure":`, m.Secure)
	b = aStrs(b, `,"iframebuster":`, m.IframeBuster)
	b = aNum(b, `,"rwdd":`, m.Rwdd)
	b = aNum(b, `,"ssai":`, m.SSAI)
	b = aNum(b, `,"exp":`, m.Exp)
	b = aFloat(b, bad, `,"dt":`, m.DT)
	b = aRaw(b, bad, `,"ext":`, m.Ext)
	return append(b, '}')
}

func appendBanner(b []byte, bad *bool, n *openrtb2.Banner) []byte {
	start := len(b)
	if len(n.Format) > 0 {
		b = append(b, `,"format":`...)
		fstart := len(b)
		for i := range n.Format {
			f := &n.Format[i]
			b = append(b, ',')
			ostart := len(b)
			b = aNum(b, `,"w":`, f.W)
			b = aNum(b, `,"h":`, f.H)
			b = aNum(b, `,"wratio":`, f.WRatio)
			b = aNum(b, `,"hratio":`, f.HRatio)
			b = aNum(b, `,"wmin":`, f.WMin)
			b = aRaw(b, bad, `,"ext":`, f.Ext)
			b = closeObj(b, ostart)
		}
		b = closeArr(b, fstart)
	}
	b = aPtr(b, `,"w":`, n.W)
	b = aPtr(b, `,"h":`, n.H)
	b = aNum(b, `,"wmax":`, n.WMax)
	b = aNum(b, `,"hmax":`, n.HMax)
	b = aNum(b, `,"wmin":`, n.WMin)
	b = aNum(b, `,"hmin":`, n.HMin)
	b = aNums(b, `,"btype":`, n.BType)
	b = aNums(b, `,"battr":`, n.BAttr)
	b = aPtr(b, `,"pos":`, n.Pos)
	b = aStrs(b, `,"mimes":`, n.MIMEs)
	b = aNum(b, `,"topframe":`, n.TopFrame)
	b = aNums(b, `,"expdir":`, n.ExpDir)
	b = aNums(b, `,"api":`, n.API)
	b = aStr(b, `,"id":`, n.ID)
	b = aPtr(b, `,"vcm":`, n.Vcm)
	b = aRaw(b, bad, `,"ext":`, n.Ext)
	return closeObj(b, start)
}

func appendVideo(b []byte, bad *bool, v *openrtb2.Video) []byte {
	if len(v.CompanionAd) > 0 || len(v.DurFloors) > 0 {
		*bad = true
		return b
	}
	b = aStrArray(append(b, '{'), `"mimes":`, v.MIMEs)
	b = aNum(b, `,"minduration":`, v.MinDuration)
	b = aNum(b, `,"maxduration":`, v.MaxDuration)
	b = aPtr(b, `,"startdelay":`, v.StartDelay)
	b = aNum(b, `,"maxseq":`, v.MaxSeq)
	b = aNum(b, `,"poddur":`, v.PodDur)
	b = aNums(b, `,"protocols":`, v.Protocols)
	b = aNum(b, `,"protocol":`, v.Protocol)
	b = aPtr(b, `,"w":`, v.W)
	b = aPtr(b, `,"h":`, v.H)
	b = aStr(b, `,"podid":`, v.PodID)
	b = aNum(b, `,"podseq":`, v.PodSeq)
	b = aNums(b, `,"rqddurs":`, v.RqdDurs)
	b = aNum(b, `,"placement":`, v.Placement)
	b = aNum(b, `,"plcmt":`, v.Plcmt)
	b = aNum(b, `,"linearity":`, v.Linearity)
	b = aPtr(b, `,"skip":`, v.Skip)
	b = aNum(b, `,"skipmin":`, v.SkipMin)
	b = aNum(b, `,"skipafter":`, v.SkipAfter)
	b = aNum(b, `,"sequence":`, v.Sequence)
	b = aNum(b, `,"slotinpod":`, v.SlotInPod)
	b = aFloat(b, bad, `,"mincpmpersec":`, v.MinCPMPerSec)
	b = aNums(b, `,"battr":`, v.BAttr)
	b = aNum(b, `,"maxextended":`, v.MaxExtended)
	b = aNum(b, `,"minbitrate":`, v.MinBitRate)
	b = aNum(b, `,"maxbitrate":`, v.MaxBitRate)
	b = aPtr(b, `,"boxingallowed":`, v.BoxingAllowed)
	b = aNums(b, `,"playbackmethod":`, v.PlaybackMethod)
	b = aNum(b, `,"playbackend":`, v.PlaybackEnd)
	b = aNums(b, `,"delivery":`, v.Delivery)
	b = aPtr(b, `,"pos":`, v.Pos)
	b = aNums(b, `,"api":`, v.API)
	b = aNums(b, `,"companiontype":`, v.CompanionType)
	b = aNums(b, `,"poddedupe":`, v.PodDedupe)
	b = aRaw(b, bad, `,"ext":`, v.Ext)
	return append(b, '}')
}

func appendSite(b []byte, bad *bool, s *openrtb2.Site) []byte {
	if s.Content != nil {
		*bad = true
		return b
	}
	start := len(b)
	b = aStr(b, `,"id":`, s.ID)
	b = aStr(b, `,"name":`, s.Name)
	b = aStr(b, `,"domain":`, s.Domain)
	b = aNum(b, `,"cattax":`, s.CatTax)
	b = aStrs(b, `,"cat":`, s.Cat)
	b = aStrs(b, `,"sectioncat":`, s.SectionCat)
	b = aStrs(b, `,"pagecat":`, s.PageCat)
	b = aStr(b, `,"page":`, s.Page)
	b = aStr(b, `,"ref":`, s.Ref)
	b = aStr(b, `,"search":`, s.Search)
	b = aPtr(b, `,"mobile":`, s.Mobile)
	b = aPtr(b, `,"privacypolicy":`, s.PrivacyPolicy)
	if p := s.Publisher; p != nil {
		b = append(b, `,"publisher":`...)
		pstart := len(b)
		b = aStr(b, `,"id":`, p.ID)
		b = aStr(b, `,"name":`, p.Name)
		b = aNum(b, `,"cattax":`, p.CatTax)
		b = aStrs(b, `,"cat":`, p.Cat)
		b = aStr(b, `,"domain":`, p.Domain)
		b = aRaw(b, bad, `,"ext":`, p.Ext)
		b = closeObj(b, pstart)
	}
	b = aStr(b, `,"keywords":`, s.Keywords)
	b = aStrs(b, `,"kwarray":`, s.KwArray)
	b = aStr(b, `,"inventorypartnerdomain":`, s.InventoryPartnerDomain)
	b = aRaw(b, bad, `,"ext":`, s.Ext)
	return closeObj(b, start)
}

func appendDevice(b []byte, bad *bool, d *openrtb2.Device) []byte {
	if d.SUA != nil {
		*bad = true
		return b
	}
	start := len(b)
	if d.Geo != nil {
		b = appendGeo(append(b, `,"geo":`...), bad, d.Geo)
	}
	b = aPtr(b, `,"dnt":`, d.DNT)
	b = aPtr(b, `,"lmt":`, d.Lmt)
	b = aStr(b, `,"ua":`, d.UA)
	b = aStr(b, `,"ip":`, d.IP)
	b = aStr(b, `,"ipv6":`, d.IPv6)
	b = aNum(b, `,"devicetype":`, d.DeviceType)
	b = aStr(b, `,"make":`, d.Make)
	b = aStr(b, `,"model":`, d.Model)
	b = aStr(b, `,"os":`, d.OS)
	b = aStr(b, `,"osv":`, d.OSV)
	b = aStr(b, `,"hwv":`, d.HWV)
	b = aNum(b, `,"h":`, d.H)
	b = aNum(b, `,"w":`, d.W)
	b = aNum(b, `,"ppi":`, d.PPI)
	b = aFloat(b, bad, `,"pxratio":`, d.PxRatio)
	b = aPtr(b, `,"js":`, d.JS)
	b = aPtr(b, `,"geofetch":`, d.GeoFetch)
	b = aStr(b, `,"flashver":`, d.FlashVer)
	b = aStr(b, `,"language":`, d.Language)
	b = aStr(b, `,"langb":`, d.LangB)
	b = aStr(b, `,"carrier":`, d.Carrier)
	b = aStr(b, `,"mccmnc":`, d.MCCMNC)
	b = aPtr(b, `,"connectiontype":`, d.ConnectionType)
	b = aStr(b, `,"ifa":`, d.IFA)
	b = aStr(b, `,"didsha1":`, d.DIDSHA1)
	b = aStr(b, `,"didmd5":`, d.DIDMD5)
	b = aStr(b, `,"dpidsha1":`, d.DPIDSHA1)
	b = aStr(b, `,"dpidmd5":`, d.DPIDMD5)
	b = aStr(b, `,"macsha1":`, d.MACSHA1)
	b = aStr(b, `,"macmd5":`, d.MACMD5)
	b = aRaw(b, bad, `,"ext":`, d.Ext)
	return closeObj(b, start)
}

func appendGeo(b []byte, bad *bool, g *openrtb2.Geo) []byte {
	start := len(b)
	b = aFloatPtr(b, bad, `,"lat":`, g.Lat)
	b = aFloatPtr(b, bad, `,"lon":`, g.Lon)
	b = aNum(b, `,"type":`, g.Type)
	b = aNum(b, `,"accuracy":`, g.Accuracy)
	b = aNum(b, `,"lastfix":`, g.LastFix)
	b = aNum(b, `,"ipservice":`, g.IPService)
	b = aStr(b, `,"country":`, g.Country)
	b = aStr(b, `,"region":`, g.Region)
	b = aStr(b, `,"regionfips104":`, g.RegionFIPS104)
	b = aStr(b, `,"metro":`, g.Metro)
	b = aStr(b, `,"city":`, g.City)
	b = aStr(b, `,"zip":`, g.ZIP)
	b = aNum(b, `,"utcoffset":`, g.UTCOffset)
	b = aRaw(b, bad, `,"ext":`, g.Ext)
	return closeObj(b, start)
}

func appendUser(b []byte, bad *bool, u *openrtb2.User) []byte {
	if len(u.Data) > 0 || len(u.EIDs) > 0 {
		*bad = true
		return b
	}
	start := len(b)
	b = aStr(b, `,"id":`, u.ID)
	b = aStr(b, `,"buyeruid":`, u.BuyerUID)
	b = aNum(b, `,"yob":`, u.Yob)
	b = aStr(b, `,"gender":`, u.Gender)
	b = aStr(b, `,"keywords":`, u.Keywords)
	b = aStrs(b, `,"kwarray":`, u.KwArray)
	b = aStr(b, `,"customdata":`, u.CustomData)
	if u.Geo != nil {
		b = appendGeo(append(b, `,"geo":`...), bad, u.Geo)
	}
	b = aStr(b, `,"consent":`, u.Consent)
	b = aRaw(b, bad, `,"ext":`, u.Ext)
	return closeObj(b, start)
}

func appendSource(b []byte, bad *bool, s *openrtb2.Source) []byte {
	start := len(b)
	b = aPtr(b, `,"fd":`, s.FD)
	b = aStr(b, `,"tid":`, s.TID)
	b = aStr(b, `,"pchain":`, s.PChain)
	if c := s.SChain; c != nil {
		b = strconv.AppendInt(append(b, `,"schain":{"complete":`...), int64(c.Complete), 10)
		b = append(b, `,"nodes":`...)
		if c.Nodes == nil {
			b = append(b, "null"...)
		} else {
			nstart := len(b)
			for i := range c.Nodes {
				n := &c.Nodes[i]
				b = appendJSONString(append(b, `,{"asi":`...), n.ASI)
				b = appendJSONString(append(b, `,"sid":`...), n.SID)
				b = aStr(b, `,"rid":`, n.RID)
				b = aStr(b, `,"name":`, n.Name)
				b = aStr(b, `,"domain":`, n.Domain)
				b = aPtr(b, `,"hp":`, n.HP)
				b = aRaw(b, bad, `,"ext":`, n.Ext)
				b = append(b, '}')
			}
			b = closeArr(b, nstart)
		}
		b = appendJSONString(append(b, `,"ver":`...), c.Ver)
		b = aRaw(b, bad, `,"ext":`, c.Ext)
		b = append(b, '}')
	}
	b = aRaw(b, bad, `,"ext":`, s.Ext)
	return closeObj(b, start)
}

func appendRegs(b []byte, bad *bool, g *openrtb2.Regs) []byte {
	start := len(b)
	b = aNum(b, `,"coppa":`, g.COPPA)
	b = aPtr(b, `,"gdpr":`, g.GDPR)
	b = aStr(b, `,"us_privacy":`, g.USPrivacy)
	b = aStr(b, `,"gpp":`, g.GPP)
	b = aNums(b, `,"gpp_sid":`, g.GPPSID)
	b = aRaw(b, bad, `,"ext":`, g.Ext)
	return closeObj(b, start)
}
