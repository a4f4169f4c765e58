package store

import "time"

// window is a view's look-back range: the earlier views of its win that
// count for it (lookBack).
type window struct{ from, to time.Time }

// viewWindows are the look-back ranges of vs, at the database's precision
// (what priorViewsSQL compares with).
func viewWindows(vs []ViewWrite) []window {
	out := make([]window, len(vs))
	for i, v := range vs {
		from, to := lookBack(v.Event)
		out[i] = window{from.Truncate(time.Microsecond), to.Truncate(time.Microsecond)}
	}
	return out
}

// prior is priorViewsSQL's answer for one view: its win has an earlier
// stored view in its range (seen), one with its case id (dup).
type prior struct{ seen, dup bool }

// decision is how one view of a group is stored.
type decision struct {
	dup    bool   // already stored (or earlier in the group): nothing to insert
	reason string // unbilled_reason of a new view: UnbilledRepeat, UnbilledLate or ""
}

// billed says whether the view is stored as its win's billed view.
func (d decision) billed() bool { return !d.dup && d.reason == "" }

// decisions are a group's, one per view.
type decisions []decision

// fresh counts the views to insert.
func (ds decisions) fresh() int {
	n := 0
	for _, d := range ds {
		if !d.dup {
			n++
		}
	}
	return n
}

// decideViews decides each view of vs as RecordView would have, had the
// views been recorded one by one in order: from what the database held
// (ps) and from the group's earlier new views of the same ext_id within the
// view's range, which the database cannot see yet.
func decideViews(vs []ViewWrite, ws []window, ps []prior) decisions {
	out := make(decisions, len(vs))
	earlier := make(map[string][]int, len(vs)) // ext_id: the group's new views of it so far
	for i, v := range vs {
		ext := v.Event.ExtID
		seen, dup := ps[i].seen, ps[i].dup
		for _, j := range earlier[ext] {
			if at := vs[j].Event.CreatedAt.Truncate(time.Microsecond); !at.Before(ws[i].from) && at.Before(ws[i].to) {
				seen = true
				dup = dup || vs[j].Event.CaseID == v.Event.CaseID
			}
		}
		switch {
		case dup:
			out[i].dup = true
			continue
		case seen:
			out[i].reason = UnbilledRepeat
		case v.Event.Late:
			out[i].reason = UnbilledLate
		}
		earlier[ext] = append(earlier[ext], i)
	}
	return out
}

// insertArgs are insertViewsSQL's arrays ($1..$22) for the views of vs to
// insert: value 0 and no notices unless billed.
func insertArgs(vs []ViewWrite, ds decisions) []any {
	n := ds.fresh()
	var (
		idx                           = make([]int32, 0, n)
		extID, caseID, iid, zid, pid  = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		price, rate, value, fee, adj  = make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
		at, enq                       = make([]time.Time, 0, n), make([]time.Time, 0, n)
		dsp, reason, bidPrice, bidCur = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		burl                          = make([]string, 0, n)
		billedValue                   = make([]int64, 0, n)
		impIdx, impSeq                = []int32{}, []int32{}
		impURL                        = []string{}
	)
	for i, v := range vs {
		d := ds[i]
		if d.dup {
			continue
		}
		ev := v.Event
		val, b := int64(0), ""
		if d.billed() {
			val, b = ev.Value, v.BURL
			for k, u := range v.Impressions {
				impIdx, impURL, impSeq = append(impIdx, int32(i)), append(impURL, u), append(impSeq, int32(k+1))
			}
		}
		idx = append(idx, int32(i))
		extID, caseID, iid, zid, pid = append(extID, ev.ExtID), append(caseID, ev.CaseID), append(iid, ev.ImpressionID),
			append(zid, ev.ZoneID), append(pid, ev.PublisherID)
		price, rate, value, fee, adj = append(price, ev.PriceMicros), append(rate, ev.RateNanos), append(value, val),
			append(fee, ev.FeePPM), append(adj, ev.BidAdjustmentPPM)
		at, enq = append(at, ev.CreatedAt), append(enq, enqueuedAt(ev))
		dsp, reason, bidPrice, bidCur = append(dsp, v.DSP), append(reason, d.reason), append(bidPrice, ev.BidPrice), append(bidCur, ev.BidCurrency)
		burl, billedValue = append(burl, b), append(billedValue, ev.Value)
	}
	return []any{idx, extID, caseID, iid, zid, pid, price, rate, value, at, dsp, reason, fee, adj,
		bidPrice, bidCur, burl, enq, billedValue, impIdx, impURL, impSeq}
}
