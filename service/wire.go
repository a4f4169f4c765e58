package service

import (
	"context"
	"fmt"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/bridge"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/events"
	"github.com/adshares/dsp-bridge/metrics"
	"github.com/adshares/dsp-bridge/outbox"
	"github.com/adshares/dsp-bridge/payments"
	"github.com/adshares/dsp-bridge/public"
	"github.com/adshares/dsp-bridge/rates"
	"github.com/adshares/dsp-bridge/retention"
)

// wiring is what each capability contributes to the running bridge.
type wiring struct {
	modules []bridge.Module
	checks  []bridge.ReadinessCheck
	workers []Worker
	closers []func()
	metrics *metrics.Metrics
	demand  *bridge.Demand // its Auctioneer takes config reloads
	notices *outbox.Worker // takes the DSPs' allow_networks on reloads
	rates   *rates.Feed
	public  *public.Server // the public listener, if public_listen is set
}

// wire builds every capability from the configuration. Each capability
// (inventory and auction, events and notices, payments, metrics) adds its
// module, readiness checks and workers here. On error it returns what it
// built so far, so that the caller can close it.
func wire(ctx context.Context, s *Service) (*wiring, error) {
	w := &wiring{metrics: metrics.New()}

	// Signature checks (DECISIONS §4). auth is nil
	// (no checks) unless adserver.public_key is set; the same verifier must
	// guard /info.json and /inventory (one nonce cache for all of them).
	auth, err := payments.NewVerifier(s.Config.AdServer, s.Log)
	if err != nil {
		return w, err
	}
	if auth != nil {
		auth.Shared = s.Store // nonces refused at every bridge sharing the database
	}

	// Registration, inventory and the auction: /info.json, /inventory, /bid.
	// Rejections are counted in the database too (payments dsps), through
	// the tally in front of the metrics.
	tally := auction.NewTally(s.Store, w.metrics, s.Log)
	w.workers = append(w.workers, tally)
	demand, err := bridge.NewDemand(ctx, s.Config, s.Store, s.Log, bridge.DemandOptions{Auth: auth.Middleware, Observer: tally})
	if err != nil {
		return w, err
	}
	w.modules = append(w.modules, demand)
	w.closers = append(w.closers, demand.Close)
	w.checks = append(w.checks, demand.Auction.Check)
	w.demand = demand

	// The ADS rate views are valued at: static, or the rate feed (fetched
	// now if the database never stored a rate; Start fails if there is
	// none at all, because views could not be valued).
	feed := rates.New(s.Config.Money, s.Store, s.Log)
	feed.Observe = w.metrics.ObserveRateFetch
	w.metrics.WatchMoney(feed.Status, s.Store, s.Config.Payments.SettleAfter, s.Log)
	w.metrics.SetTMax(s.Config.Auction.TMax)
	if err := feed.Start(ctx); err != nil {
		return w, err
	}
	w.rates = feed
	w.checks = append(w.checks, feed.Check)
	w.workers = append(w.workers, feed)

	// Events and notices: /view, /click, the spool replayer, burl delivery.
	notices, err := outbox.New(s.Store, s.Config.Outbox, s.Log)
	if err != nil {
		return w, err
	}
	if err := notices.SetDSPs(s.Config.DSPs); err != nil {
		return w, err
	}
	w.notices = notices
	ev, err := events.FromConfig(s.Store, s.Config, s.Log, feed.Nanos)
	if err != nil {
		return w, err
	}
	ev.Notify, ev.Notices = notices.Wake, notices
	ev.Observe = w.metrics.ObserveEvent
	ev.ObserveBilled = w.metrics.ObserveBilled
	notices.Observe = w.metrics.ObserveDelivery
	w.modules = append(w.modules, ev)
	w.checks = append(w.checks, notices.Check, ev.Check)
	w.workers = append(w.workers, ev, notices)
	w.closers = append(w.closers, ev.Close)
	// Markup wins: their held nurl is released once /bid has answered.
	demand.Auction.SetStore(s.Store, notices.Wake)

	// The public listener (creatives.delivery public): /c/{token} only.
	if s.Config.PublicListen != "" {
		ps, err := public.Listen(s.Config.PublicListen, s.Store, s.Config.Creatives.PublicTTL, s.Log)
		if err != nil {
			return w, fmt.Errorf("public_listen %s: %w", s.Config.PublicListen, err)
		}
		ps.Notify, ps.Observe = notices.Wake, w.metrics.ObservePublic
		w.public = ps
		w.workers = append(w.workers, ps)
		w.closers = append(w.closers, ps.Close)
	}

	// Payments: the settler, /payment-reports, /payment-details.
	w.modules = append(w.modules, payments.NewModule(s.Store, s.Config.Payments, auth, s.Log))
	w.workers = append(w.workers, payments.NewSettler(s.Store, s.Config.Payments, s.Log))

	// Retention: partitions created ahead, expired ones dropped.
	keeper := retention.New(s.Store, s.Config, s.Log)
	keeper.Observe, keeper.ObserveRun = w.metrics.ObserveRetentionDrop, w.metrics.ObserveRetentionRun
	w.workers = append(w.workers, keeper)

	// Metrics read at scrape time: breakers, the pools, outbox, reports, tables.
	w.metrics.SetDSPs(dspNames(s.Config))
	w.metrics.WatchDSPs(demand.Auction.DSPStates)
	w.metrics.WatchCreatives(demand.Auction.CreativeStats)
	w.metrics.WatchPool(s.Store.Pool)
	if s.Store.WinPool() != s.Store.Pool {
		w.metrics.WatchWinPool(s.Store.WinPool())
	}
	w.metrics.WatchStore(s.Store, s.Config.Payments.Window, s.Config.Retention.Wins, s.Log)
	return w, nil
}

// dspNames lists the configured DSPs: the only DSP label values of the
// per-auction metrics.
func dspNames(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.DSPs))
	for _, d := range cfg.DSPs {
		names = append(names, d.Name)
	}
	return names
}
