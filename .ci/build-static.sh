#!/usr/bin/env bash
# The one command that builds the release binary: static (no cgo), without
# local paths (-trimpath), stripped, with version and commit stamped in.
# The Dockerfile runs it; make image-check runs it in a clean copy.
# Usage: .ci/build-static.sh OUT [VERSION [COMMIT]]
set -euo pipefail
out=$1
version=${2:-${VERSION:-dev}}
commit=${3:-${COMMIT:-unknown}}
pkg=github.com/davnas/davnas/internal/version
CGO_ENABLED=0 go build -trimpath -tags urfave_cli_no_docs \
  -ldflags "-s -w -X ${pkg}.Version=${version} -X ${pkg}.Commit=${commit}" \
  -o "$out" ./cmd/davnas
