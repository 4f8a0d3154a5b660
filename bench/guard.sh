#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# decide() per queued packet vs a loop that only hashes the source, both
# measured in this run, interleaved (see guard-bench.c). Pure CPU: no root,
# no namespaces. Knobs: BUILD (default build), PACKETS (1000000), ROUNDS (7),
# OUT_DIR (bench/out).
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
out=${OUT_DIR:-bench/out}
mkdir -p "$out"
ninja -C "$build" tests/guard-bench >/dev/null
file="$out/guard-$(date -u +%Y%m%dT%H%M%SZ).txt"
"$build/tests/guard-bench" "${PACKETS:-1000000}" "${ROUNDS:-7}" | tee "$file"
