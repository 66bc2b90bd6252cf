#!/usr/bin/env bash
# Checks, without Docker, that docker/Dockerfile's runtime stage installs every shared library the binary needs:
# builds the release binary exactly as the build stage does, lists its libraries with ldd, finds the Debian package of
# each (dpkg -S) and requires it to be in the runtime stage's RUNTIME_PACKAGES or in the base image.
# With an argument, checks that binary instead of building one (scripts/test.sh builds its release binary with the
# build stage's own command line, so one build serves both).
set -euo pipefail
cd "$(dirname "$0")/.."

# Packages debian:bookworm-slim already has (essential packages and apt's own dependencies).
BASE_PACKAGES="libc6 libgcc-s1 libstdc++6 zlib1g"
RUNTIME_PACKAGES=$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' docker/Dockerfile)
[ -n "$RUNTIME_PACKAGES" ] || { echo "check-runtime-deps: no RUNTIME_PACKAGES in docker/Dockerfile" >&2; exit 1; }
BUILD_LINE=$(grep -o 'swift build -c release --static-swift-stdlib[^&]*--product hyperpod-local' docker/Dockerfile)
[ -n "$BUILD_LINE" ] || { echo "check-runtime-deps: no static build line in docker/Dockerfile" >&2; exit 1; }

if [ $# -ge 1 ]; then
  BINARY=$1
  echo "== checking $BINARY (built with: $BUILD_LINE)"
else
  echo "== $BUILD_LINE (scratch path .build-static)"
  $BUILD_LINE --scratch-path .build-static
  BINARY=.build-static/release/hyperpod-local
fi

status=0
while read -r library path; do
  if [ -z "$path" ] || [ "$path" = "not" ]; then echo "MISSING  $library (not found on this machine)"; status=1; continue; fi
  package=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1 || true)
  [ -n "$package" ] || package=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1 || true)
  if [ -z "$package" ]; then
    echo "UNKNOWN  $library ($path): no Debian package owns it"; status=1
  elif [[ " $RUNTIME_PACKAGES $BASE_PACKAGES " == *" $package "* ]]; then
    echo "ok       $library ← $package"
  else
    echo "MISSING  $library ← $package: add it to RUNTIME_PACKAGES"; status=1
  fi
done < <(ldd "$BINARY" | awk '/=>/ {print $1, $3} !/=>/ && /\// {print $1, $1}' | grep -v '^linux-vdso')

if ldd "$BINARY" | grep -q 'libswift\|libFoundation\|lib_Foundation\|libdispatch'; then
  echo "the Swift runtime is linked dynamically: expected the static standard library" >&2; status=1
fi
[ $status -eq 0 ] && echo "check-runtime-deps: every shared library is in the runtime stage"
exit $status
