#!/usr/bin/env bash
# Regenerates the committed seed corpus tests/fuzz/corpus/ with make_seeds
# from a fuzz build: tests/fuzz/make_corpus.sh BUILD_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:?usage: make_corpus.sh BUILD_DIR}"
ninja -C "$build" tests/fuzz/make_seeds
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$here/corpus"
ASAN_OPTIONS=detect_leaks=0 "$build/tests/fuzz/make_seeds" "$here/corpus" "$tmp"
