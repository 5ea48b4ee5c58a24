# davnas — build, run, test, lint, bench.
#   make run     start the server on ./data, port 3000
#   make test    install missing test clients (apt), lint, then every test with -race

GO          ?= go
BIN         ?= bin/davnas
PKG         := github.com/davnas/davnas
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS     := -s -w -X $(PKG)/internal/version.Version=$(VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Go test timeout: the whole suite stays far below CI's 90 minutes.
TEST_TIMEOUT ?= 25m

export CGO_ENABLED ?= 1

.PHONY: all build run test test-deps lint fmt vet staticcheck bench fuzz clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/davnas

run: build
	./$(BIN) serve

# The real clients the end-to-end tests drive (curl, strace, ...) are
# installed with apt-get when missing; see test/deps.sh.
test-deps:
	./test/deps.sh

test: test-deps lint
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(GO) test -run '^$$' -bench . -benchtime 1x ./... > /dev/null

lint: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...

fuzz:
	$(GO) test ./internal/storage -run '^$$' -fuzz FuzzClean -fuzztime 30s
	$(GO) test ./internal/fileapi -run '^$$' -fuzz FuzzRoute -fuzztime 30s

clean:
	rm -rf bin
