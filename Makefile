# davnas — build, run, test, lint, bench.
#   make run     start the server on ./data, port 3000
#   make test    install missing test clients (apt), lint, then every test with -race

GO          ?= go
# Go 1.27.3, fetched through the module proxy on first use: govulncheck
# finds standard-library vulnerabilities in 1.26.8 (fixed in 1.26.9/1.26.10,
# which this workplace does not serve). go.mod still says 1.26, so
# `go run ./cmd/davnas serve` works with any Go 1.26.
GOTOOLCHAIN ?= go1.27.3
export GOTOOLCHAIN
BIN         ?= bin/davnas
PKG         := github.com/davnas/davnas
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS     := -s -w -X $(PKG)/internal/version.Version=$(VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
# The vulnerability database snapshot govulncheck reads (see .ci/vulndb.sh).
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB_DIR     := $(CURDIR)/bin/vulndb-$(VULNDB_VERSION)
# Go test timeout: the whole suite stays far below CI's 90 minutes.
TEST_TIMEOUT ?= 25m

export CGO_ENABLED ?= 1

.PHONY: all build run test test-deps lint fmt vet staticcheck vulncheck image-check chart-check manifests bench bench-e2e bench-e2e-quick fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags urfave_cli_no_docs -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/davnas

run: build
	./$(BIN) serve

# The real clients the end-to-end tests drive (curl, strace, ...) are
# installed with apt-get when missing; see test/deps.sh.
test-deps:
	./test/deps.sh

test: test-deps lint image-check chart-check
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(GO) test -run '^$$' -bench . -benchtime 1x ./... > /dev/null

lint: fmt vet staticcheck vulncheck

fmt:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

vulncheck: $(VULNDB_DIR)/index/db.json
	$(GO) run $(GOVULNCHECK) -db file://$(VULNDB_DIR) ./...

$(VULNDB_DIR)/index/db.json:
	./.ci/vulndb.sh $(VULNDB_VERSION) $(VULNDB_DIR)

# The Helm chart: lint, render (default, every option, http-nas migration),
# validate every object with the Kubernetes API types, refuse bad values,
# and fail when deploy/kubernetes/davnas.yaml is stale (see .ci/chart.sh).
chart-check:
	./.ci/chart.sh check

# Regenerate deploy/kubernetes/davnas.yaml from the chart's defaults.
manifests:
	./.ci/chart.sh manifests

# The container image, proven without a Docker engine (see .ci/image-check.sh).
image-check:
	./.ci/image-check.sh

# Go benchmarks of the hot paths, then the end-to-end comparison against
# nginx and a bare x/net/webdav server (test/bench; about 5 minutes).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...
	$(GO) run ./test/bench

bench-e2e:
	$(GO) run ./test/bench

# The end-to-end comparison, one short round (about 30 s).
bench-e2e-quick:
	$(GO) run ./test/bench -quick

fuzz:
	$(GO) test ./internal/storage -run '^$$' -fuzz FuzzClean -fuzztime 30s
	$(GO) test ./internal/fileapi -run '^$$' -fuzz FuzzRoute -fuzztime 30s
	$(GO) test ./internal/server -run '^$$' -fuzz FuzzRequestLine -fuzztime 30s

clean:
	rm -rf bin
