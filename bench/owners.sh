#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The owners of `fwctl stats` (policy/attrib.c) made, every element of the
# IR counted once, and rendered as Prometheus series (daemon/metrics.c) for
# N live allow edits vs N/10, in the same run, interleaved (see
# owners-bench.c). Pure CPU: no root, no
# namespaces. Knobs: BUILD (default build), N (100000), ROUNDS (5),
# OUT_DIR (bench/out).
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
out=${OUT_DIR:-bench/out}
mkdir -p "$out"
ninja -C "$build" tests/owners-bench >/dev/null
file="$out/owners-$(date -u +%Y%m%dT%H%M%SZ).txt"
"$build/tests/owners-bench" "${N:-100000}" "${ROUNDS:-5}" | tee "$file"
