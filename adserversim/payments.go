package adserversim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/adshares/dsp-bridge/ads"
)

// Report states of the AdServer's state machine (§12).
const (
	StateRetry   = "retry"   // seen, not done yet
	StateNew     = "new"     // done and payable, details not (fully) processed
	StateDone    = "done"    // paid out
	StateInvalid = "invalid" // payable while the bridge was not registered: never paid
)

// maxDetailPages bounds one report's paging, where the AdServer has no bound.
const maxDetailPages = 100_000

// reportState is what the AdServer keeps per report id.
type reportState struct {
	state      string
	value      int64
	createdAt  time.Time
	lastOffset int
	credited   int64
	detailsSum int64
	details    int
	unknown    int
	pages      int
	perPub     map[string]int64
}

// Settlement is a report the AdServer finished paying: its ledger result.
type Settlement struct {
	ReportID     string
	Value        int64            // the report's value in clicks
	CreatedAt    time.Time        // payment time of every credited event
	Credited     int64            // sum credited, min(event_value, what is left) per entry
	DetailsSum   int64            // sum of every event_value listed, known case or not
	Details      int              // entries listed
	Unknown      int              // entries whose case the AdServer never recorded
	Pages        int              // payment-details requests made
	PerPublisher map[string]int64 // one ad-income ledger entry each, txid = ReportID
}

// PaymentReports fetches B/payment-reports as ops:supply:payments:process
// does and validates it all or nothing (§12).
func (c *Client) PaymentReports(ctx context.Context) ([]Report, error) {
	resp, err := c.call(ctx, http.MethodGet, c.BaseURL+"/payment-reports", nil, jsonHeaders(), laravelTimeout)
	if err != nil {
		return nil, fmt.Errorf("payment-reports: %w", err)
	}
	return parsePaymentReports(resp.status, resp.body)
}

// PaymentDetailsURL is the E7 URL: the origin of serverUrl, then
// /payment-details/{id}/{ADSERVER_ADDR}/{date}/{signature} inserted without
// URL-encoding (the date keeps its literal "+"), then limit and offset.
func (c *Client) PaymentDetailsURL(reportID string, date time.Time, limit, offset int) (string, error) {
	origin, err := c.serverOrigin()
	if err != nil {
		return "", err
	}
	if len(c.Seed) != 32 {
		return "", fmt.Errorf("adserversim: Seed must be 32 bytes")
	}
	sig := ads.PaymentDetailsSignature(c.Seed, reportID, date, c.AdServerAddr)
	return origin + "/payment-details/" + reportID + "/" + c.AdServerAddr + "/" + atom(date) + "/" + sig +
		"?limit=" + strconv.Itoa(limit) + "&offset=" + strconv.Itoa(offset), nil
}

// PaymentDetails fetches one page of a report's details (§13) with the
// signed path and Authorization header, and validates it.
func (c *Client) PaymentDetails(ctx context.Context, reportID string, limit, offset int) ([]Detail, error) {
	u, err := c.PaymentDetailsURL(reportID, c.now(), limit, offset)
	if err != nil {
		return nil, err
	}
	hdr, err := c.signedHeaders()
	if err != nil {
		return nil, err
	}
	resp, err := c.call(ctx, http.MethodGet, u, nil, hdr, guzzleTimeout)
	if err != nil {
		return nil, fmt.Errorf("payment-details: %w", err)
	}
	if resp.status != http.StatusOK {
		return nil, &ValidationError{Doc: "payment-details", Rule: fmt.Sprintf("status %d is not 200: the report is retried from offset %d", resp.status, offset)}
	}
	return parsePaymentDetails(resp.body)
}

// Settle runs ops:supply:payments:process once (§3.7, §3.8, §12, §13):
// fetch the reports, move them through the state machine, then page the
// details of every payable report, crediting each known case
// min(event_value, value − credited so far). It returns the reports paid in
// this run. A failing page leaves the report payable, keeps the pages
// already processed and resumes from their offset on the next run, as the
// AdServer does; the error says what failed.
func (c *Client) Settle(ctx context.Context) ([]Settlement, error) {
	reports, err := c.PaymentReports(ctx)
	if err != nil {
		return nil, err
	}
	_, registered := c.Registered()
	c.mu.Lock()
	if c.reports == nil {
		c.reports = map[string]*reportState{}
	}
	var payable []string
	for _, r := range reports {
		st := c.reports[r.ID]
		done := r.Status == "done"
		switch {
		case st == nil && done, st != nil && st.state == StateRetry && done:
			var v int64
			if r.Value != nil {
				v = *r.Value
			}
			if st == nil {
				st = &reportState{perPub: map[string]int64{}}
				c.reports[r.ID] = st
			}
			st.state, st.value, st.createdAt = StateNew, v, r.CreatedAt
		case st == nil:
			c.reports[r.ID] = &reportState{state: StateRetry, perPub: map[string]int64{}}
		}
	}
	for id, st := range c.reports {
		if st.state == StateNew {
			if !registered {
				st.state = StateInvalid
				continue
			}
			payable = append(payable, id)
		}
	}
	c.mu.Unlock()
	slices.Sort(payable)

	var out []Settlement
	for _, id := range payable {
		s, err := c.settleReport(ctx, id)
		if err != nil {
			return out, fmt.Errorf("report %s: %w", id, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func (c *Client) settleReport(ctx context.Context, id string) (Settlement, error) {
	limit := c.DetailsLimit
	if limit <= 0 {
		limit = 5000
	}
	c.mu.Lock()
	st := c.reports[id]
	offset := st.lastOffset
	before := *st
	before.perPub = maps.Clone(st.perPub)
	c.mu.Unlock()
	var prev []Detail
	for {
		page, err := c.PaymentDetails(ctx, id, limit, offset)
		c.mu.Lock()
		st.pages++
		var ve *ValidationError
		if errors.As(err, &ve) && ve.Path != "" {
			// A bad entry is a processing error: the run's transaction is
			// rolled back and the report retried from where it started.
			pages := st.pages
			*st = before
			st.perPub = maps.Clone(before.perPub)
			st.pages = pages
		}
		c.mu.Unlock()
		if err != nil {
			return Settlement{}, err
		}
		if st.pages > maxDetailPages {
			return Settlement{}, fmt.Errorf("payment-details: more than %d pages for one report: giving up", maxDetailPages)
		}
		if len(page) == limit && slices.Equal(page, prev) {
			return Settlement{}, fmt.Errorf("payment-details: offset %d returned the same full page as the one before: the bridge ignores offset and the AdServer would loop forever (§13)", offset)
		}
		c.credit(id, page)
		offset += limit
		c.mu.Lock()
		st.lastOffset = offset
		c.mu.Unlock()
		if len(page) < limit {
			break
		}
		prev = page
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st.state = StateDone
	per := maps.Clone(st.perPub)
	return Settlement{
		ReportID: id, Value: st.value, CreatedAt: st.createdAt, Credited: st.credited, DetailsSum: st.detailsSum,
		Details: st.details, Unknown: st.unknown, Pages: st.pages, PerPublisher: per,
	}, nil
}

// credit applies one page: known cases get min(event_value, value − credited),
// unknown ones are skipped silently (§13).
func (c *Client) credit(id string, page []Detail) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.reports[id]
	for _, d := range page {
		st.details++
		st.detailsSum += d.EventValue
		cs, ok := c.cases[d.CaseID]
		if !ok {
			st.unknown++
			continue
		}
		amount := min(d.EventValue, st.value-st.credited)
		st.credited += amount
		st.perPub[cs.PublisherID] += amount
	}
}

// ReportState returns the AdServer-side state of a report id ("" if unseen).
func (c *Client) ReportState(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.reports[id]; st != nil {
		return st.state
	}
	return ""
}
