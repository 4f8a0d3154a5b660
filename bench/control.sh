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
#   sudo SEPARATE=1 LISTENERS=2000 HEAVY="explain 198.18.0.5 1-65535/tcp|audit" \
#        bench/control.sh
#
# SEPARATE=1: each heavy query gets a loaded phase of its own in every round
# (one client running it back to back), reported in a row of its own: which
# query holds status up, rather than what all of them together do.
# The policy also has an outbound `program =` service (`explain --out ...
# --program /usr/bin/curl` has a program rule to find), and LISTENERS=N
# (default 0) has bench/listen-many.c hold N listening sockets in the
# namespace (what `fwctl audit` walks). NETS=N (default 0) adds a list of
# N IPv6 /64 networks (every other one of 2001:db8:1000::/47, at most
# 65536, apart so that they stay N elements) to the same service: an
# interval set, which `fwctl explain` of an IPv6 source outside it
# (2001:db8:ffff::1) walks whole for every port.
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
SEPARATE=${SEPARATE:-0}
LISTENERS=${LISTENERS:-0}
NETS=${NETS:-0}
MANY=${LISTEN_MANY:-$BUILD/tests/listen-many}

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

# loaded_phase OUT QUERY...: CALLS timed status calls into OUT while one
# client per QUERY runs it back to back
loaded_phase() {
	local out=$1 h p
	shift
	LOADERS=()
	for h in "$@"; do loader "$NS" "$h" "$SCRATCH/h-${h//[^A-Za-z0-9.-]/_}"; done
	sleep 1	# every loader has a query in the daemon
	statuses "$NS" "$out"
	# The loaders' shells go; a query they had running finishes on its own.
	for p in "${LOADERS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${LOADERS[@]}"; do wait "$p" 2>/dev/null || true; done
	sleep 2
}

# ---- set-up ----------------------------------------------------------------

start_report control
report "# fwctl status latency alone vs under heavy queries; N=$N, $ROUNDS rounds of $CALLS calls each"
report "# heavy queries, one client each, back to back: $HEAVY"

ns_add NS fwd
mkdir -p "$SCRATCH/pol"
gen_sources "$N" > "$SCRATCH/pol/list.txt"
nets=
if [ "$NETS" -gt 0 ]; then
	awk -v n="$NETS" 'BEGIN { for (i = 0; i < n; i++)
		printf "2001:db8:%x:%x::/64\n", 4096 + int(2 * i / 65536), 2 * i % 65536 }' \
		> "$SCRATCH/pol/nets.txt"
	nets=", @nets"
	report "# plus $NETS IPv6 /64 networks in list nets"
fi
cat > "$SCRATCH/pol/fwd.conf" <<-EOF
[defaults]
inbound = deny
[list bench]
file = $SCRATCH/pol/list.txt
$( [ "$NETS" -eq 0 ] || printf '[list nets]\nfile = %s\n' "$SCRATCH/pol/nets.txt" )
[service ssh]
ports = 22/tcp
allow = @bench$nets
[service updates]
direction = out
ports = 443/tcp
allow = any
program = /usr/bin/curl
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
if [ "$LISTENERS" -gt 0 ]; then
	[ -x "$MANY" ] || die "no listen-many at $MANY (build first)"
	ip netns exec "$NS" "$MANY" "$LISTENERS" 20000 > "$SCRATCH/many.log" 2>&1 &
	for _ in $(seq 200); do grep -q ready "$SCRATCH/many.log" && break; sleep 0.1; done
	grep -q "ready $LISTENERS" "$SCRATCH/many.log" || die "listen-many: $(cat "$SCRATCH/many.log")"
	report "# listening sockets held in the namespace: $LISTENERS"
fi
report "# load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"

: > "$SCRATCH/alone"; : > "$SCRATCH/cpu"; : > "$SCRATCH/loaded"
IFS='|' read -r -a heavy <<< "$HEAVY"
for h in "${heavy[@]}"; do : > "$SCRATCH/h-${h//[^A-Za-z0-9.-]/_}"; done
for r in $(seq "$ROUNDS"); do
	note "round $r: $CALLS status calls alone ..."
	statuses "$NS" "$SCRATCH/alone"
	# As many burners as heavy clients run at once (one with SEPARATE=1).
	nburn=${#heavy[@]}
	[ "$SEPARATE" != 1 ] || nburn=1
	note "round $r: $CALLS status calls while $nburn nice 10 CPU burners run ..."
	BURN=()
	for _ in $(seq "$nburn"); do nice -n 10 sh -c 'while :; do :; done' & BURN+=($!); done
	statuses "$NS" "$SCRATCH/cpu"
	for p in "${BURN[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${BURN[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "$SEPARATE" = 1 ]; then
		for h in "${heavy[@]}"; do
			note "round $r: $CALLS status calls while one client runs: $h ..."
			loaded_phase "$SCRATCH/sep-${h//[^A-Za-z0-9.-]/_}" "$h"
		done
	else
		note "round $r: $CALLS status calls while ${#heavy[@]} clients run: $HEAVY ..."
		loaded_phase "$SCRATCH/loaded" "${heavy[@]}"
	fi
done
kill -0 "$FWD_PID" || die "fwd died"
report "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

a50=$(pct 0.5 "$SCRATCH/alone"); a99=$(pct 0.99 "$SCRATCH/alone")
if [ "$SEPARATE" = 1 ]; then
	# One row per query; the summary lines below are for all of them pooled.
	: > "$SCRATCH/loaded"
	for h in "${heavy[@]}"; do cat "$SCRATCH/sep-${h//[^A-Za-z0-9.-]/_}" >> "$SCRATCH/loaded"; done
fi
l50=$(pct 0.5 "$SCRATCH/loaded"); l99=$(pct 0.99 "$SCRATCH/loaded")
report ""
report "$(printf '%-40s %10s %10s %10s' "fwctl status (seconds)" p50 p99 max)"
report "$(printf '%-40s %10s %10s %10s' "alone" "$a50" "$a99" "$(pct 1 "$SCRATCH/alone")")"
report "$(printf '%-40s %10s %10s %10s' "with CPU burners (nice 10)" "$(pct 0.5 "$SCRATCH/cpu")" "$(pct 0.99 "$SCRATCH/cpu")" "$(pct 1 "$SCRATCH/cpu")")"
report "$(printf '%-40s %10s %10s %10s' "under heavy queries" "$l50" "$l99" "$(pct 1 "$SCRATCH/loaded")")"
if [ "$SEPARATE" = 1 ]; then
	for h in "${heavy[@]}"; do
		f=$SCRATCH/sep-${h//[^A-Za-z0-9.-]/_}
		report "$(printf '%-40s %10s %10s %10s' "  under $h" "$(pct 0.5 "$f")" "$(pct 0.99 "$f")" "$(pct 1 "$f")")"
	done
fi
report "loaded/alone: p50 $(awk -v a="$l50" -v b="$a50" 'BEGIN { printf "%.2f", a / b }')x," \
	"p99 $(awk -v a="$l99" -v b="$a99" 'BEGIN { printf "%.2f", a / b }')x"
report "heavy/burners: p99 $(awk -v a="$l99" -v b="$(pct 0.99 "$SCRATCH/cpu")" 'BEGIN { printf "%.2f", a / b }')x  (1.0: the queries cost status no more than their CPU does)"
report "p99 under heavy queries: $(awk -v a="$l99" 'BEGIN { printf "%.1f", a * 1000 }') ms  (target <= 50 ms)"
report ""
report "$(printf '%-40s %10s %10s %10s' "heavy queries meanwhile" answered median failed)"
for h in "${heavy[@]}"; do
	f=$SCRATCH/h-${h//[^A-Za-z0-9.-]/_}
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
