#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The state file decoder's overlap check (daemon/state.c, no_crossing):
# CPU time of decoding a last good policy with HOSTS x PORTS elements in
# allow4_net, with the check against the same decoder built without it
# (state-bench-base), in ROUNDS rounds that alternate which runs first;
# the ratio per round and its median. SHAPE: cut (what the compiler
# makes: the one-pass case) or cross (the sweep). Pure CPU: no root.
# Knobs: BUILD (build), HOSTS (131072), PORTS (8), SHAPE (cut), ROUNDS (7),
# DECODES (3, the median of which each run reports), OUT_DIR (bench/out).
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
out=${OUT_DIR:-bench/out}
mkdir -p "$out"
ninja -C "$build" tests/state-bench tests/state-bench-base >/dev/null
file="$out/statedec-$(date -u +%Y%m%dT%H%M%SZ).txt"
hosts=${HOSTS:-131072} ports=${PORTS:-8} shape=${SHAPE:-cut} decodes=${DECODES:-3}
run() {
	"$build/tests/$1" "$hosts" "$ports" "$shape" "$decodes"
}
{
	echo "statedec: $hosts x $ports $shape, $decodes decodes, load $(cut -d' ' -f1-3 /proc/loadavg)"
	for r in $(seq 1 "${ROUNDS:-7}"); do
		if [ $((r % 2)) -eq 1 ]; then
			b=$(run state-bench-base)
			n=$(run state-bench)
		else
			n=$(run state-bench)
			b=$(run state-bench-base)
		fi
		echo "round $r: without ${b}s with ${n}s ratio $(echo "$n $b" | awk '{printf "%.3f", $1 / $2}')"
	done
	echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$file"
awk '/^round/ { print $NF }' "$file" | sort -n |
	awk '{ r[NR] = $1 } END { printf "median ratio %.3f (%d rounds)\n", r[int((NR + 1) / 2)], NR }' |
	tee -a "$file"
