# Gatehouse — see README.md. `make test` is the one command CI runs.
GO      ?= go
BIN     ?= bin/gatehouse
PKGS    ?= ./...
FUZZTIME ?= 30s

.PHONY: all build overlay test test-deps vet fmt bench bench-cache gobench fuzz tls-scan clean

# Every go command below (and the end-to-end tests' own build of the
# binary, which inherits the environment) compiles the runtime with Go's
# poller waking ready goroutines in the kernel's order, not in reverse: a
# shorter latency tail under load (internal/pollorder, scripts/netpoll-fifo.sh,
# docs/performance.md "p99: the poller's order"). The script prints nothing
# for a toolchain whose poller it does not know; the build is then stock.
# GOFLAGS_BASE is what the go command would use without this Makefile
# (environment or `go env -w`): kept under the overlay, and given alone to
# the benchmark harness, whose reference builds (httputil, the origin)
# stay stock Go.
GOFLAGS_BASE := $(shell $(GO) env GOFLAGS)
OVERLAY := $(shell GO="$(GO)" ./scripts/netpoll-fifo.sh)
ifneq ($(OVERLAY),)
export GOFLAGS := $(strip $(GOFLAGS_BASE) -overlay=$(OVERLAY))
endif

all: build

# Writes the overlay again before the go commands that use it (`make clean
# build` removes it after the line above wrote it).
overlay:
	@GO="$(GO)" ./scripts/netpoll-fifo.sh >/dev/null

build: overlay
	$(GO) build -trimpath -o $(BIN) ./cmd/gatehouse

# Installs what the tests need when it is missing, then runs every test
# (unit, fuzz seeds, end-to-end against the real binary) under the race
# detector; the end-to-end suite runs once more on net/http's HTTP/1.1
# server (E2E_ENGINE=nethttp; the default is the own engine), so both
# engines pass the same tests, and the net/http proxy's tests run once more
# with the engine's client for the requests it takes (PROXY_DIRECT=1), and
# the poller's wake order is checked without the race detector (which
# shuffles the scheduler's queues).
# Linux is the target (splice, raw socket
# I/O); the module must still build and vet for macOS, where developers
# run it (splice_other.go).
test: test-deps overlay
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed (make fmt):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	GOOS=darwin GOARCH=arm64 $(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	E2E_ENGINE=nethttp $(GO) test -race -count=1 -timeout 10m ./test/e2e/
	PROXY_DIRECT=1 $(GO) test -race -count=1 -timeout 5m ./internal/proxy/
	$(GO) test -count=1 -timeout 1m ./internal/pollorder/

test-deps:
	./scripts/test-deps.sh

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -l -w $$(git ls-files '*.go')

# Go benchmarks of the hot path (router, header rules, proxy exchange).
gobench: overlay
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Side-by-side harness: nginx, HAProxy, Caddy, httputil and Gatehouse.
bench: build
	./scripts/bench-deps.sh
	cd ../shared/bench && GOFLAGS="$(GOFLAGS_BASE)" GATEHOUSE=$(CURDIR)/$(BIN) ./run.sh

# Cache hits: Gatehouse's cache against nginx's proxy_cache, same origin
# and placement as the harness (docs/performance.md, "HTTP cache hits").
bench-cache: build
	./scripts/bench-deps.sh
	GOFLAGS="$(GOFLAGS_BASE)" GATEHOUSE=$(CURDIR)/$(BIN) ./scripts/bench-cache.sh

# TLS configuration scan of a real TLS listener with Debian's testssl.sh
# (installed by the script): no protocol below TLS 1.2, no weak or
# non-AEAD cipher, forward secrecy everywhere. Minutes, so not in `test`.
tls-scan: build
	./scripts/tls-scan.sh $(BIN)

# Runs every native fuzz target for FUZZTIME each.
fuzz: overlay
	./scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin
