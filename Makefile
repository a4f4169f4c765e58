# The README's commands. Everything the targets need is installed by
# scripts/ensure-postgres.sh (PostgreSQL), scripts/ensure-chromium.sh (headless
# Chromium for the real-browser tests) and the Go module proxy.
GO ?= go

.PHONY: run test lint build bench fuzz fuzz-short soak

# The whole bridge working on this machine in about 20 s: a throwaway
# PostgreSQL, three simulated DSPs, the bridge and a simulated AdServer
# (`bridge demo`; DEMO_ARGS="--keep" leaves it running). The binary runs
# directly, not under `go run`, so Ctrl-C reaches it and it stops cleanly.
run: build
	@[ -n "$${BRIDGE_DATABASE_URL:-}" ] || scripts/ensure-postgres.sh
	bin/bridge demo $(DEMO_ARGS)

# Every test, with the race detector, against a real (throwaway) PostgreSQL
# and a real headless Chromium (those tests skip where it cannot be installed),
# then a short run of every fuzz target.
test: lint
	@scripts/ensure-postgres.sh
	@scripts/ensure-chromium.sh
	$(GO) test -race -count=1 -timeout 12m ./...
	@$(MAKE) --no-print-directory fuzz-short

# Every fuzz target for a few seconds (about 50 s in all on 2 cores). Their
# seed corpora already ran in the tests above.
fuzz-short:
	@GO=$(GO) FUZZTIME=2s scripts/fuzz.sh

# Every fuzz target for FUZZTIME (default 2m) each.
FUZZTIME ?= 2m
fuzz:
	@GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/bridge ./cmd/bridge

bench:
	@scripts/ensure-postgres.sh
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The chaos soak: SOAK_DURATION (default 3m) of mixed traffic against DSPs
# that fail on every surface the bridge calls, with PostgreSQL restarted and
# crashed and the bridge killed with -9 along the way, then a reconciliation
# (`bridge bench --chaos`; README "Chaos soak"). Exits 1 if anything was lost.
SOAK_DURATION ?= 3m
soak: build
	@scripts/ensure-postgres.sh
	bin/bridge bench --chaos --duration $(SOAK_DURATION) $(SOAK_ARGS)
