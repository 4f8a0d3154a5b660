#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Control-socket latency under heavy queries (issue 8, section 5): how long
# `fwctl status` takes alone, and while other clients keep running the
# queries whose cost grows with the table (`fwctl show --nft`, `fwctl
# stats`, `fwctl diff`) against fwd holding N (default 100k) allowlist
# entries. The baseline is status alone, measured in the same run,
# interleaved with the loaded phases (ROUNDS rounds, each: CALLS status
# calls alone, CALLS while as many CPU burners run as there are heavy
# clients (at the workers' nice 10, no fwd query: what the CPU they take
# costs status on a shared 2-core machine, without fwd's loop in the
# way), then CALLS under the heavy queries), so the machine's drifting
# load cancels out.
#
#   sudo bench/control.sh                     # N=100000 ROUNDS=3 CALLS=100
#   sudo N=10000 ROUNDS=1 CALLS=50 bench/control.sh
#
# Reported: p50 and p99 of status alone and under load, their ratios
# (loaded / alone), and how many heavy answers the loaders got meanwhile
# (with their median time, for context). Target: p99 under load at most
# 50 ms, i.e. status never waits for a heavy query (before fwd answered
# those off its event loop, p99 under load was the length of a show --nft).
# Each status call is the whole fwctl process (fork, exec, connect,
# answer), timed inside the namespace with bash's $EPOCHREALTIME;
# `ip netns exec` is outside the timing.

. "$(dirname "$0")/lib.sh"

FWCTL=${FWCTL_BIN:-$BUILD/ctl/fwctl}
N=${N:-100000}
ROUNDS=${ROUNDS:-3}
CALLS=${CALLS:-100}
HEAVY=${HEAVY:-"show --nft|stats|diff"}

need_tools awk sort
[ -x "$FWCTL" ] || die "no fwctl at $FWCTL (build first, or set FWCTL_BIN)"

# pct Q FILE: the Q-quantile (0-1) of the numbers in FILE, nearest rank
pct() {
	sort -g "$2" | awk -v q="$1" '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		r = int(q * NR); if (r < q * NR) r++; if (r < 1) r = 1
		print v[r] }'
}

# statuses NS OUT: CALLS timed `fwctl status` calls, seconds per line into
# OUT; every answer must be whole (it has its control line)
statuses() {
	ip netns exec "$1" bash -c '
		fwctl=$1 sock=$2 calls=$3 out=$4 err=$5
		for ((i = 0; i < calls; i++)); do
			t0=$EPOCHREALTIME
			"$fwctl" -S "$sock" status > "$err.out" 2> "$err" || exit 1
			t1=$EPOCHREALTIME
			grep -q "^control:" "$err.out" || { echo "incomplete answer" >> "$err"; exit 1; }
			echo "$t0 $t1"
		done | awk "{ printf \"%.6f\\n\", \$2 - \$1 }" >> "$out"
		' _ "$FWCTL" "$SCRATCH/fwd.sock" "$CALLS" "$2" "$SCRATCH/status.err" ||
		{ cat "$SCRATCH/status.err" >&2; die "fwctl status failed"; }
}

# loader NS WORDS OUT: runs `fwctl WORDS` back to back until killed, the
# seconds of each whole answer into OUT, a line into OUT.failed for each
# one that failed (fwctl's exit status, or an empty answer)
loader() {
	ip netns exec "$1" bash -c '
		fwctl=$1 sock=$2 out=$3; shift 3
		while :; do
			t0=$EPOCHREALTIME
			if "$fwctl" -S "$sock" "$@" > "$out.answer" 2>> "$out.err" &&
			   [ -s "$out.answer" ]; then
				t1=$EPOCHREALTIME
				echo "$t0 $t1" | awk "{ printf \"%.6f\\n\", \$2 - \$1 }" >> "$out"
			else
				echo "$*" >> "$out.failed"
			fi
		done' _ "$FWCTL" "$SCRATCH/fwd.sock" "$3" $2 &
	LOADERS+=($!)
}

# ---- set-up ----------------------------------------------------------------

start_report control
report "# fwctl status latency alone vs under heavy queries; N=$N, $ROUNDS rounds of $CALLS calls each"
report "# heavy queries, one client each, back to back: $HEAVY"

ns_add NS fwd
mkdir -p "$SCRATCH/pol"
gen_sources "$N" > "$SCRATCH/pol/list.txt"
cat > "$SCRATCH/pol/fwd.conf" <<-EOF
[defaults]
inbound = deny
[list bench]
file = $SCRATCH/pol/list.txt
[service ssh]
ports = 22/tcp
allow = @bench
EOF
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
n=$(ip netns exec "$NS" nft list set inet fwd_filter allow4 | grep -o ' \. 22' | wc -l)
report "# allow4 elements in the kernel: $n"

: > "$SCRATCH/alone"; : > "$SCRATCH/cpu"; : > "$SCRATCH/loaded"
IFS='|' read -r -a heavy <<< "$HEAVY"
for h in "${heavy[@]}"; do : > "$SCRATCH/h-${h// /_}"; done
for r in $(seq "$ROUNDS"); do
	note "round $r: $CALLS status calls alone ..."
	statuses "$NS" "$SCRATCH/alone"
	note "round $r: $CALLS status calls while ${#heavy[@]} nice 10 CPU burners run ..."
	BURN=()
	for h in "${heavy[@]}"; do nice -n 10 sh -c 'while :; do :; done' & BURN+=($!); done
	statuses "$NS" "$SCRATCH/cpu"
	for p in "${BURN[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${BURN[@]}"; do wait "$p" 2>/dev/null || true; done
	note "round $r: $CALLS status calls while ${#heavy[@]} clients run: $HEAVY ..."
	LOADERS=()
	for h in "${heavy[@]}"; do loader "$NS" "$h" "$SCRATCH/h-${h// /_}"; done
	sleep 1	# every loader has a query in the daemon
	statuses "$NS" "$SCRATCH/loaded"
	# The loaders' shells go; a query they had running finishes on its own.
	for p in "${LOADERS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${LOADERS[@]}"; do wait "$p" 2>/dev/null || true; done
	sleep 2
done
kill -0 "$FWD_PID" || die "fwd died"

a50=$(pct 0.5 "$SCRATCH/alone"); a99=$(pct 0.99 "$SCRATCH/alone")
l50=$(pct 0.5 "$SCRATCH/loaded"); l99=$(pct 0.99 "$SCRATCH/loaded")
report ""
report "$(printf '%-40s %10s %10s %10s' "fwctl status (seconds)" p50 p99 max)"
report "$(printf '%-40s %10s %10s %10s' "alone" "$a50" "$a99" "$(pct 1 "$SCRATCH/alone")")"
report "$(printf '%-40s %10s %10s %10s' "with CPU burners (nice 10)" "$(pct 0.5 "$SCRATCH/cpu")" "$(pct 0.99 "$SCRATCH/cpu")" "$(pct 1 "$SCRATCH/cpu")")"
report "$(printf '%-40s %10s %10s %10s' "under heavy queries" "$l50" "$l99" "$(pct 1 "$SCRATCH/loaded")")"
report "loaded/alone: p50 $(awk -v a="$l50" -v b="$a50" 'BEGIN { printf "%.2f", a / b }')x," \
	"p99 $(awk -v a="$l99" -v b="$a99" 'BEGIN { printf "%.2f", a / b }')x"
report "heavy/burners: p99 $(awk -v a="$l99" -v b="$(pct 0.99 "$SCRATCH/cpu")" 'BEGIN { printf "%.2f", a / b }')x  (1.0: the queries cost status no more than their CPU does)"
report "p99 under heavy queries: $(awk -v a="$l99" 'BEGIN { printf "%.1f", a * 1000 }') ms  (target <= 50 ms)"
report ""
report "$(printf '%-40s %10s %10s %10s' "heavy queries meanwhile" answered median failed)"
for h in "${heavy[@]}"; do
	f=$SCRATCH/h-${h// /_}
	nf=0
	[ ! -e "$f.failed" ] || nf=$(wc -l < "$f.failed")
	report "$(printf '%-40s %10s %10s %10s' "fwctl $h" "$(wc -l < "$f")" "$(median < "$f")" "$nf")"
	[ "$nf" -eq 0 ] || report "  $(sort -u "$f.err" 2>/dev/null | head -3)"
done
{
	echo ""
	echo "# raw: status alone (s)"; cat "$SCRATCH/alone"
	echo "# raw: status with CPU burners (s)"; cat "$SCRATCH/cpu"
	echo "# raw: status under heavy queries (s)"; cat "$SCRATCH/loaded"
} >> "$REPORT"
note "report: $REPORT"
