#!/usr/bin/env bash
# What can be proven about the container image without a Docker engine:
# the Dockerfile's build command succeeds in a clean copy of the tracked
# tree; the binary is static and small enough for an image under 20 MB;
# the Dockerfile passes a linter and states what the image promises.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git ls-files -z | xargs -0 -I{} cp --parents {} "$work"/ 2>/dev/null || git archive HEAD | tar -x -C "$work"
version=$(git describe --tags --always 2>/dev/null || echo dev)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
(cd "$work" && ./.ci/build-static.sh "$work/davnas" "$version" "$commit")

desc=$(file "$work/davnas")
echo "image-check: $desc"
case "$desc" in *"statically linked"*) ;; *) echo "image-check: the binary is not static" >&2; exit 1;; esac
if ldd "$work/davnas" >/dev/null 2>&1; then echo "image-check: ldd finds dynamic dependencies" >&2; exit 1; fi
size=$(stat -c %s "$work/davnas")
# distroless/static-debian12 is about 2 MB; the image must stay under 20 MB.
limit=$((17 * 1024 * 1024))
echo "image-check: binary is $((size / 1024 / 1024)) MiB (limit 17 MiB, image < 20 MB)"
[ "$size" -lt "$limit" ] || { echo "image-check: binary too large" >&2; exit 1; }
"$work/davnas" version

for want in 'FROM gcr.io/distroless/static-debian12:nonroot' 'USER 2000:2000' 'EXPOSE 3000' 'VOLUME /data' \
            'ENV DAVNAS_ROOT=/data' 'davnas", "healthcheck"' 'build-static.sh'; do
  grep -qF "$want" Dockerfile || { echo "image-check: Dockerfile lacks: $want" >&2; exit 1; }
done

if command -v npx >/dev/null 2>&1; then
  npx --yes dockerfilelint@1.8.0 Dockerfile
else
  echo "image-check: npx not found; install Node.js to lint the Dockerfile" >&2
  exit 1
fi
echo "image-check: ok"
