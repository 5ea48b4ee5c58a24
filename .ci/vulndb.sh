#!/usr/bin/env bash
# Builds the Go vulnerability database govulncheck reads, offline: the OSV
# entries come from the golang.org/x/vulndb module (served by the module
# proxy like any module, pinned by the Makefile), indexed with its own
# cmd/indexdb. vuln.go.dev itself is not reachable from CI.
# Usage: .ci/vulndb.sh VULNDB_VERSION OUT_DIR
set -euo pipefail
version=$1
out=$2
dir=$(go mod download -json "golang.org/x/vulndb@${version}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "vulndb.sh: cannot download golang.org/x/vulndb@${version}" >&2; exit 1; }
rm -rf "$out.tmp"
mkdir -p "$(dirname "$out")"
(cd "$dir" && GOFLAGS=-mod=mod go run ./cmd/indexdb -vulns data/osv -out "$out.tmp")
rm -rf "$out"
mv "$out.tmp" "$out"
