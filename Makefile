# rfc6455/websocket: the commands a newcomer needs.
#   make run    the chat example server; open a demo link it prints
#   make test   vet + every test under the race detector (CI runs this)
GO       ?= go
ADDR     ?= 127.0.0.1:8080
FUZZTIME ?= 30s
FUZZPKGS ?= ./frame/ ./handshake/ ./internal/deflate/ ./internal/deflatetest/ . ./autobahn/check/

.PHONY: test setup vet cross fmt-check fuzz bench bench-peers run autobahn

# make test installs the real peers the tests start (scripts/setup.sh:
# chromium, nats-server, redis-server, Node ws) unless WS_SKIP_SETUP=1.
test: setup vet fmt-check cross
	$(GO) test -race -count=1 -timeout 12m ./...
	$(GO) test -count=1 ./internal/idlemem/ # stack sizes: meaningless under -race
	cd adapters/nats && $(GO) test -race -count=1 ./...
	cd adapters/redis && $(GO) test -race -count=1 ./...
	cd examples/cluster && $(GO) test -race -count=1 ./...
	cd h2test && $(GO) test -race -count=1 ./...

setup:
	@if [ "$(WS_SKIP_SETUP)" = 1 ]; then echo "setup skipped (WS_SKIP_SETUP=1)"; else bash scripts/setup.sh; fi

vet:
	$(GO) vet ./...

# The platforms the module must build on (README "Platforms"): build and
# vet every package, tests included, with GOOS/GOARCH set, for the root
# module and the nested modules make test runs. (bench/ is a Linux harness
# and is not cross-compiled.)
CROSS        ?= linux/amd64 linux/arm64 linux/386 darwin/arm64 windows/amd64 freebsd/amd64 openbsd/amd64 js/wasm
CROSSMODULES ?= . adapters/nats adapters/redis examples/cluster h2test
cross:
	@set -e; for p in $(CROSS); do \
	  for m in $(CROSSMODULES); do \
	    echo "== $$p $$m"; \
	    (cd $$m && GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -o /dev/null ./... && \
	      GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./...); \
	  done; \
	done

fmt-check:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './interop/node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every fuzz target for FUZZTIME each, one at a time.
fuzz:
	@set -e; for pkg in $(FUZZPKGS); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# Side-by-side comparison with gorilla, coder, gws and gobwas (bench/ is its
# own module); about 5 minutes on 2 cores. BENCHFLAGS=-quick for a smoke run.
bench-peers:
	cd bench && $(GO) run ./cmd/peers $(BENCHFLAGS)

run:
	$(GO) run ./examples/chat -addr $(ADDR)

# Autobahn|Testsuite against both testees (Docker engine, or WSTEST=/path/to/wstest).
autobahn:
	./autobahn/run.sh
