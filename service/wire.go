package service

import (
	"context"

	"github.com/adshares/dsp-bridge/bridge"
)

// wiring is what each capability contributes to the running bridge.
type wiring struct {
	modules []bridge.Module
	checks  []bridge.ReadinessCheck
	workers []Worker
	closers []func()
}

// wire builds every capability from the configuration. Each capability
// (inventory and auction, events and notices, payments, metrics) adds its
// module, readiness checks and workers here.
func wire(ctx context.Context, s *Service) (*wiring, error) {
	w := &wiring{}
	return w, nil
}
