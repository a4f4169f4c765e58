package auction

import (
	"context"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prebid/openrtb/v20/openrtb3"

	"github.com/adshares/dsp-bridge/macros"
	"github.com/adshares/dsp-bridge/outbound"
)

// Loss notices (lurl, dsps[].loss_notices) are best effort: a bounded queue
// in memory and a few senders, never the database, so a flood of losing
// bids costs at most the queue. A notice that does not fit is dropped and
// counted.
const (
	lossQueue   = 1024
	lossSenders = 2
)

// lossNotice is one lurl to fire.
type lossNotice struct {
	dsp, url string
}

// lossSender fires lurls through the DSP's outbound client.
type lossSender struct {
	client  func(dsp string) *outbound.Client
	timeout time.Duration
	observe func(dsp, result string) // sent, failed, blocked, dropped
	log     *slog.Logger

	queue chan lossNotice
	wg    sync.WaitGroup
	once  sync.Once
}

func newLossSender(client func(string) *outbound.Client, timeout time.Duration, observe func(dsp, result string), log *slog.Logger) *lossSender {
	s := &lossSender{client: client, timeout: timeout, observe: observe, log: log, queue: make(chan lossNotice, lossQueue)}
	for range lossSenders {
		s.wg.Add(1)
		go s.run()
	}
	return s
}

// send queues n, or drops it when the queue is full.
func (s *lossSender) send(n lossNotice) {
	select {
	case s.queue <- n:
	default:
		s.observe(n.dsp, "dropped")
	}
}

func (s *lossSender) run() {
	defer s.wg.Done()
	for n := range s.queue {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		resp, err := s.client(n.dsp).Get(ctx, n.url)
		cancel()
		switch _, refused := outbound.AsRefused(err); {
		case refused:
			s.observe(n.dsp, "blocked")
		case resp != nil && resp.Status >= 200 && resp.Status < 300:
			s.observe(n.dsp, "sent")
		default:
			s.observe(n.dsp, "failed")
		}
	}
}

// close stops taking notices and waits for the queued ones (each bounded
// by the timeout).
func (s *lossSender) close() {
	s.once.Do(func() { close(s.queue) })
	s.wg.Wait()
}

// OpenRTB loss reason codes (${AUCTION_LOSS}) of the bids the bridge
// judged valid but did not take.
const (
	lossInternal       = openrtb3.LossInternalError   // 1: the wins could not be stored
	lossHigherBid      = openrtb3.LossLostToHigherBid // 102
	lossFiltered       = openrtb3.LossCreativeFiltered
	lossPending        = openrtb3.LossPendingProcessing // 201: creative still being fetched
	lossSizeNotAllowed = openrtb3.LossSizeNotAllowed    // 203
	lossFormat         = openrtb3.LossIncorrectFormat   // 204
)

// lossCode is the loss reason of a bid refused at creative resolution.
func lossCode(r Refusal) openrtb3.LossReason {
	switch r.Reason {
	case ReasonUnrenderable:
		return lossFormat
	case ReasonCreativeMismatch:
		if r.wrongSize {
			return lossSizeNotAllowed
		}
		return lossFormat
	case ReasonCreativeTimeout:
		return lossPending // the fetch goes on: the creative is there next time
	}
	return lossFiltered // too large, fetch failed, refused URL
}

// minToWin is the winning price in a loser's currency, for
// ${AUCTION_MIN_TO_WIN}: the winner's own price text when the currencies
// match, else its micro-USD converted at the loser's rate and rounded up.
func minToWin(winner, loser *candidate) string {
	if winner == nil {
		return ""
	}
	if strings.EqualFold(winner.currency, loser.currency) {
		return string(winner.bid.Price)
	}
	// micro-units = ceil(micro-USD × 1e9 / nano-USD per unit)
	n := new(big.Int).Mul(big.NewInt(winner.priceMicros), big.NewInt(1e9))
	d := big.NewInt(loser.dsp.rateNanos)
	n.Add(n, new(big.Int).Sub(d, big.NewInt(1)))
	n.Quo(n, d)
	return formatMicroUnits(n)
}

// formatMicroUnits prints millionths as a decimal without trailing zeros.
func formatMicroUnits(n *big.Int) string {
	s := n.String()
	for len(s) < 7 {
		s = "0" + s
	}
	whole, frac := s[:len(s)-6], strings.TrimRight(s[len(s)-6:], "0")
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}

// lurlOf is a losing bid's lurl with its macros ("" when its DSP does not
// want loss notices or the bid has no lurl).
func lurlOf(auctionID string, c, winner *candidate, code openrtb3.LossReason) string {
	if !c.dsp.cfg.LossNotices || c.bid.LURL == "" {
		return ""
	}
	v := bidValues(auctionID, c)
	v.Loss = strconv.Itoa(int(code))
	v.MinToWin = minToWin(winner, c)
	return macros.ExpandAll(c.bid.LURL, v)
}
