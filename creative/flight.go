package creative

import (
	"context"
	"errors"
)

// flight is one fetch of a URL that every concurrent resolution of that URL
// waits for (singleflight): a creative that many auctions want at once is
// fetched once.
type flight struct {
	done       chan struct{}
	cancel     context.CancelFunc
	a          *asset // set before done is closed
	cors       bool   // every hop answered CORS * (see fetch)
	err        error
	waiters    int  // resolutions waiting (under Resolver.mu)
	background bool // running with nobody waiting, counted in Resolver.background
	finished   bool
}

// asset is url's fetched bytes: from the cache, from a fetch already in
// flight, or from a new fetch. cached reports a cache hit; cors whether
// every hop of url's fetch answered CORS * (a fact of the URL, not of the
// bytes, so it is kept per URL).
//
// The fetch runs under its own context (bounded by FetchTimeout), not the
// auction's. When the auction's deadline passes first, this resolution
// fails with creative_timeout, but the fetch goes on in the background
// (at most BackgroundFetches of them at once; beyond that it is cancelled):
// a DSP bids the same creative again and again, so the next auction finds
// it in the cache instead of losing to the same slow first fetch forever.
// The bound keeps a DSP whose assets never arrive from piling up fetches.
func (r *Resolver) asset(ctx context.Context, url, accept string) (a *asset, cached, cors bool, err error) {
	if a, cors, err, ok := r.cache.get(url, r.cfg.Now()); ok {
		r.hits.Add(1)
		return a, true, cors, err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, false, false, refuse(ReasonFetchFailed, "the resolver is closed")
	}
	f, shared := r.flights[url]
	if shared {
		r.joined.Add(1)
	} else {
		fctx, cancel := context.WithTimeout(context.Background(), r.cfg.FetchTimeout)
		f = &flight{done: make(chan struct{}), cancel: cancel}
		r.flights[url] = f
		r.wg.Add(1)
		r.fetches.Add(1)
		go r.run(fctx, f, url, accept)
	}
	f.waiters++
	r.mu.Unlock()

	select {
	case <-f.done:
		return f.a, false, f.cors, f.err
	case <-ctx.Done():
		select {
		case <-f.done: // finished at the same moment: the result is there
			return f.a, false, f.cors, f.err
		default:
		}
		detail := r.leave(f)
		return nil, false, false, &Error{Reason: ReasonTimeout, Detail: "fetching " + clip(url) + " " + detail, Err: ctx.Err()}
	}
}

// leave is a resolution giving up on f; the last one leaves the fetch
// running in the background if there is room, else cancels it.
func (r *Resolver) leave(f *flight) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	f.waiters--
	switch {
	case f.waiters > 0 || f.finished:
		return "(others still wait)"
	case f.background:
		return "(continues in the background)"
	case r.background < r.cfg.BackgroundFetches:
		r.background++
		f.background = true
		return "(continues in the background)"
	}
	f.cancel()
	return "(cancelled: too many background fetches)"
}

// run fetches url, caches the result and wakes the waiters.
func (r *Resolver) run(ctx context.Context, f *flight, url, accept string) {
	defer r.wg.Done()
	b, cors, err := fetch(ctx, r.f, url, accept, r.cfg.MaxBytes)
	f.cancel()
	var a *asset
	if err == nil {
		a = r.cache.put(url, newAsset(b), cors)
	} else if rememberFailure(err) {
		r.cache.putFailure(url, err, r.cfg.Now().Add(r.cfg.FailureTTL))
	}
	r.mu.Lock()
	delete(r.flights, url)
	if f.background {
		r.background--
	}
	f.a, f.cors, f.err, f.finished = a, cors, err, true
	r.mu.Unlock()
	close(f.done)
}

// rememberFailure: a creative that is too large or not there will be the same
// in a moment; a timeout or a cancelled fetch says nothing about the next one.
func rememberFailure(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Reason != ReasonTimeout
}
