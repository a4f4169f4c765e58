package bridge

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/inventory"
	"github.com/adshares/dsp-bridge/store"
)

// Version is announced in /info.json.
var Version = "0.1.0"

// Demand is the registration, inventory and auction capability as one
// module: GET /info.json, GET /inventory, POST /bid (and /serve).
type Demand struct {
	Info      *Info
	Inventory *Inventory
	Bid       *BidHandler
	Auction   *auction.Auctioneer
	batcher   *auction.Batcher
	auth      func(http.Handler) http.Handler
}

// DemandOptions are the optional parts of NewDemand.
type DemandOptions struct {
	// Observer receives auction outcomes (metrics); nil means none.
	Observer auction.Observer
	// Auth guards /info.json and /inventory (the AdServer signs those
	// calls); nil means no check.
	Auth func(http.Handler) http.Handler
}

// NewDemand builds the capability: it checks the inventory config, records
// the first start and campaign dates, and prepares the DSP clients.
func NewDemand(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger, opts DemandOptions) (*Demand, error) {
	catalog, err := inventory.NewCatalog(cfg)
	if err != nil {
		return nil, err
	}
	times, err := inventory.LoadTimes(ctx, st, cfg, time.Now())
	if err != nil {
		return nil, err
	}
	inv, err := NewInventory(inventory.Document(cfg, times), catalog, st, log)
	if err != nil {
		return nil, err
	}
	// Few writers (database.win_writers, default one) with batches of up
	// to 64 auctions, waiting briefly for the auctions still running
	// (database.win_commit_delay), keep commits per second low under load
	// without delaying a lone auction.
	batcher := auction.NewBatcher(st, log, auction.BatcherOptions{Writers: cfg.Database.WinWriters, MaxBatch: 64,
		CommitDelay: cfg.Database.WinCommitDelay, Observer: opts.Observer})
	auctioneer, err := auction.NewAuctioneer(cfg, batcher, opts.Observer, log)
	if err != nil {
		batcher.Close()
		return nil, err
	}
	return &Demand{
		Info: NewInfo(cfg, Version), Inventory: inv, Bid: NewBidHandler(auctioneer, catalog, log),
		Auction: auctioneer, batcher: batcher, auth: opts.Auth,
	}, nil
}

// Mount adds every endpoint of the capability.
func (d *Demand) Mount(r chi.Router) {
	// The AdServer signs its calls to /info.json and /inventory; browsers
	// fetching placeholder images sign nothing.
	r.Group(func(r chi.Router) {
		if d.auth != nil {
			r.Use(d.auth)
		}
		r.Get("/info.json", d.Info.serve)
		r.Get("/inventory", d.Inventory.serve)
	})
	r.Get("/placeholder/{id}", d.Inventory.placeholder)
	d.Bid.Mount(r)
}

// Close stops the win writers and closes DSP connections.
func (d *Demand) Close() {
	d.batcher.Close()
	d.Auction.Close()
}
