#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What Prometheus metrics cost (issue 13, section 3), fwd holding N
# (default 100k) allowlist entries in a namespace, all in one run:
#
#  - `fwctl stats --prometheus` / `fwctl stats --json`: the exposition
#    renderer against the JSON one on the same gathered numbers (ROUNDS
#    interleaved pairs, medians; both are answered by a forked child);
#  - `fwctl status` p50/p99 while fwd writes [metrics] textfile every
#    5 s (the policy's floor) / the same without [metrics], interleaved
#    rounds of CALLS calls (each loaded round spans at least two writes):
#    the textfile writer must not hold the event loop up (its child reads
#    the table back, renders and writes);
#  - the textfile's size, and that no write failed.
#
#   sudo bench/metrics.sh                   # N=100000 ROUNDS=3 CALLS=100
#   sudo N=10000 ROUNDS=1 CALLS=50 bench/metrics.sh

. "$(dirname "$0")/lib.sh"

FWCTL=${FWCTL_BIN:-$BUILD/ctl/fwctl}
N=${N:-100000}
ROUNDS=${ROUNDS:-3}
CALLS=${CALLS:-100}

need_tools awk sort
[ -x "$FWCTL" ] || die "no fwctl at $FWCTL (build first, or set FWCTL_BIN)"

pct() {	# pct Q FILE: the Q-quantile of the numbers in FILE, nearest rank
	sort -g "$2" | awk -v q="$1" '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		r = int(q * NR); if (r < q * NR) r++; if (r < 1) r = 1
		print v[r] }'
}

timed() {	# timed OUT WORDS...: one fwctl call in the namespace, seconds into OUT
	ip netns exec "$NS" bash -c '
		out=$1; shift
		t0=$EPOCHREALTIME
		"$@" > /dev/null || exit 1
		t1=$EPOCHREALTIME
		echo "$t0 $t1" | awk "{ printf \"%.6f\\n\", \$2 - \$1 }" >> "$out"
		' _ "$1" "$FWCTL" -S "$SCRATCH/fwd.sock" "${@:2}" || die "fwctl ${*:2} failed"
}

policy() {	# policy yes|no: the policy with or without [metrics]
	cat > "$SCRATCH/pol/fwd.conf" <<-EOF
	[defaults]
	inbound = deny
	[list bench]
	file = $SCRATCH/pol/list.txt
	[service ssh]
	ports = 22/tcp
	allow = @bench
	EOF
	if [ "$1" = yes ]; then
		printf '[metrics]\ntextfile = %s\ninterval = 5s\n' "$SCRATCH/prom/fwd.prom" \
			>> "$SCRATCH/pol/fwd.conf"
	fi
	[ -z "${FWD_PID:-}" ] || timed "$SCRATCH/reloads" reload
}

start_report metrics
report "# fwctl stats --prometheus vs --json, fwctl status with and without [metrics]; N=$N, $ROUNDS rounds of $CALLS calls"

ns_add NS fwd
mkdir -p "$SCRATCH/pol" "$SCRATCH/prom"
chmod 0755 "$SCRATCH/prom"
gen_sources "$N" > "$SCRATCH/pol/list.txt"
policy no
note "starting fwd with $N entries ..."
ip netns exec "$NS" "$FWD" -c "$SCRATCH/pol/fwd.conf" --state-dir "" \
	-S "$SCRATCH/fwd.sock" > "$SCRATCH/fwd.log" 2>&1 &
FWD_PID=$!
disown "$FWD_PID"
for i in $(seq 300); do
	grep -q 'control socket at' "$SCRATCH/fwd.log" && break
	kill -0 "$FWD_PID" 2>/dev/null || break
	sleep 0.1
done
grep -q 'control socket at' "$SCRATCH/fwd.log" || { cat "$SCRATCH/fwd.log" >&2; die "fwd did not come up"; }

: > "$SCRATCH/prom.t"; : > "$SCRATCH/json.t"; : > "$SCRATCH/off"; : > "$SCRATCH/on"
for r in $(seq "$ROUNDS"); do
	note "round $r: stats --prometheus / --json pairs ..."
	for i in 1 2 3 4 5; do
		timed "$SCRATCH/prom.t" stats --prometheus
		timed "$SCRATCH/json.t" stats --json
	done
	note "round $r: $CALLS status calls without [metrics] ..."
	for i in $(seq "$CALLS"); do timed "$SCRATCH/off" status; done
	policy yes
	sleep 1
	note "round $r: $CALLS status calls while fwd writes the textfile every 5 s ..."
	t0=$SECONDS
	for i in $(seq "$CALLS"); do timed "$SCRATCH/on" status; done
	# At least two writes fall into the measured calls.
	while ((SECONDS - t0 < 11)); do timed "$SCRATCH/on" status; done
	policy no
done
kill -0 "$FWD_PID" || die "fwd died"
size=$(stat -c %s "$SCRATCH/prom/fwd.prom" 2>/dev/null || echo 0)

pm=$(median < "$SCRATCH/prom.t"); jm=$(median < "$SCRATCH/json.t")
report ""
report "$(printf '%-44s %10s' "fwctl stats, median seconds" "")"
report "$(printf '%-44s %10s' "--prometheus" "$pm")"
report "$(printf '%-44s %10s' "--json" "$jm")"
report "prometheus/json: $(awk -v a="$pm" -v b="$jm" 'BEGIN { printf "%.2f", a / b }')x"
report ""
report "$(printf '%-44s %10s %10s %10s' "fwctl status (seconds)" p50 p99 calls)"
report "$(printf '%-44s %10s %10s %10s' "without [metrics]" "$(pct 0.5 "$SCRATCH/off")" "$(pct 0.99 "$SCRATCH/off")" "$(wc -l < "$SCRATCH/off")")"
report "$(printf '%-44s %10s %10s %10s' "textfile written every 5 s" "$(pct 0.5 "$SCRATCH/on")" "$(pct 0.99 "$SCRATCH/on")" "$(wc -l < "$SCRATCH/on")")"
report "with/without: p50 $(awk -v a="$(pct 0.5 "$SCRATCH/on")" -v b="$(pct 0.5 "$SCRATCH/off")" 'BEGIN { printf "%.2f", a / b }')x," \
	"p99 $(awk -v a="$(pct 0.99 "$SCRATCH/on")" -v b="$(pct 0.99 "$SCRATCH/off")" 'BEGIN { printf "%.2f", a / b }')x"
report "textfile: $size bytes; failures logged: $(grep -c 'metrics: .*retrying' "$SCRATCH/fwd.log" || true)"
{
	echo ""
	echo "# fwd's metrics log lines"
	grep 'metrics:' "$SCRATCH/fwd.log" | sed 's/^/# /'
	echo "# raw: stats --prometheus (s)"; cat "$SCRATCH/prom.t"
	echo "# raw: stats --json (s)"; cat "$SCRATCH/json.t"
	echo "# raw: status without [metrics] (s)"; cat "$SCRATCH/off"
	echo "# raw: status with [metrics] (s)"; cat "$SCRATCH/on"
} >> "$REPORT"
note "report: $REPORT"
