# The README's commands. Everything the targets need is installed by
# scripts/ensure-postgres.sh (PostgreSQL) and the Go module proxy.
GO ?= go

.PHONY: run test lint build bench

# Run the bridge on this machine with a throwaway PostgreSQL and the example config.
run:
	@scripts/ensure-postgres.sh
	$(GO) run ./cmd/bridge serve --config configs/bridge.example.yaml

# Every test, with the race detector, against a real (throwaway) PostgreSQL.
test: lint
	@scripts/ensure-postgres.sh
	$(GO) test -race -count=1 -timeout 12m ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/bridge ./cmd/bridge

bench:
	@scripts/ensure-postgres.sh
	$(GO) test -run '^$$' -bench . -benchmem ./...
