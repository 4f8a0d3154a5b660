#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The verdict loop's kernel half: CPU per queued packet and verdict rate of
# fwd's queue module (bench/nfq-fwd, kmod-hooks/queue.c: batched receive,
# batched verdicts) against a minimal accept-all NFQUEUE loop (bench/nfq-min:
# one receive and one verdict message per packet), same libraries, same
# socket settings, same traffic, in the same run.
#
#   gen 192.0.2.2 --veth-- srv 192.0.2.1
#   srv: fwd's table with the queue step (flood = off: no meter, every new
#   flow is queued), applied by `nfq-fwd apply`, plus a table of the
#   benchmark's own at input priority 300 that counts and drops what a loop
#   accepted (no socket, no ICMP replies);
#   gen: `nettool flood udp` to a port no rule opens, a new source port per
#   datagram (every packet a new flow, so every packet is queued).
#
# Two phases per round, each loop once per phase (order alternating):
#   fixed: RATE datagrams/s for DURATION s, below what either loop sustains:
#          CPU seconds of the loop process / packets = CPU per packet;
#   max:   as fast as nettool sends for DURATION s: packets verdicted /
#          seconds from first to last packet = verdict rate, and what the
#          kernel dropped (/proc: queue full, socket full).
# The loop runs pinned to CPU LOOP_CPU, the flood (and, on veth, the
# receive softirq) to FLOOD_CPU. Ratios are medians of per-round ratios.
#
# A third loop, "daemon", is the real fwd with a [guard] section (flood =
# off, so every new flow is queued; logging on, capped as in production):
# worker thread, guard decisions, records into the ring and the log, drop
# verdicts. Its CPU is fwd's whole process (utime + stime from /proc)
# over the flood, its packets the verdicts `fwctl status --json` counts;
# its verdict rate is over the flood's DURATION (the others' over first to
# last packet). Its ratio is against nfq-min of the same round.
#
#   sudo bench/queue.sh                    # RUNS=5 DURATION=2 RATE=30000
#   sudo RUNS=9 RATE=50000 bench/queue.sh

. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-5}
DURATION=${DURATION:-2}
RATE=${RATE:-30000}
NCPU=$(nproc)
LOOP_CPU=${LOOP_CPU:-0}
FLOOD_CPU=${FLOOD_CPU:-$(( NCPU - 1 ))}
NFQ_MIN=${NFQ_MIN:-$BUILD/tests/nfq-min}
NFQ_FWD=${NFQ_FWD:-$BUILD/tests/nfq-fwd}
FWD=${FWD_BIN:-$BUILD/daemon/fwd}
FWCTL=${FWCTL_BIN:-$BUILD/ctl/fwctl}
PORT=9

need_tools taskset awk
for t in "$NETTOOL" "$NFQ_MIN" "$NFQ_FWD" "$FWD" "$FWCTL"; do
	[ -x "$t" ] || die "no $t (build first: sh scripts/build.sh)"
done
mkdir -p "$OUT_DIR"
OUT=$OUT_DIR/queue-$(date -u +%Y%m%dT%H%M%SZ).txt

ns_add GEN gen
ns_add SRV srv
ip -n "$SRV" link add eth0 type veth peer name eth0 netns "$GEN"
ip -n "$SRV" addr add 192.0.2.1/24 dev eth0
ip -n "$GEN" addr add 192.0.2.2/24 dev eth0
ip -n "$SRV" link set eth0 up
ip -n "$GEN" link set eth0 up
cat >"$SCRATCH/policy.conf" <<EOF
[defaults]
inbound = deny
log = off
[service web]
ports = 8080/tcp
allow = any
EOF
ip netns exec "$SRV" "$NFQ_FWD" apply "$SCRATCH/policy.conf" 1 ||
	die "cannot apply the queue table"
ip netns exec "$SRV" nft -f - <<EOF
table inet fwdbench {
	counter pkts { }
	chain post {
		type filter hook input priority 300; policy accept;
		udp dport $PORT counter name "pkts" drop
	}
}
EOF

# The daemon's policy: the same table, the queue step from [guard].
cat >"$SCRATCH/guard.conf" <<EOF
[defaults]
inbound = deny
log = off
[guard]
flood = off
[service web]
ports = 8080/tcp
allow = any
EOF

# Memory first touched, caches warm: one unmeasured flood.
ip netns exec "$GEN" "$NETTOOL" flood udp 192.0.2.1 $PORT --count 20000 \
	--timeout 5 >/dev/null 2>&1 || true
sleep 0.5

proc_drops() {	# queued_dropped user_dropped of queue 0 in srv
	ip netns exec "$SRV" cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null |
		awk '$1 == 0 { print $6, $7; found = 1 } END { if (!found) print 0, 0 }'
}

run_one() {	# run_one LOOP(min|fwd) RATE -> "packets cpu_s busy_s sent qd ud"
	local which=$1 rate=$2 log=$SCRATCH/loop.log pid sent
	local prog=$NFQ_MIN
	[ "$which" = fwd ] && prog="$NFQ_FWD loop"
	: >"$log"
	# shellcheck disable=SC2086
	ip netns exec "$SRV" taskset -c "$LOOP_CPU" $prog 0 $(( DURATION + 5 )) \
		>"$log" 2>&1 &
	pid=$!
	for _ in $(seq 50); do grep -q ready "$log" && break; sleep 0.1; done
	grep -q ready "$log" || die "$which loop did not start: $(cat "$log")"
	sent=$(ip netns exec "$GEN" taskset -c "$FLOOD_CPU" "$NETTOOL" flood udp \
		192.0.2.1 $PORT --rate "$rate" --timeout "$DURATION" |
		awk '{ print $2 }')
	sleep 0.3	# the last packets get their verdicts
	read -r qd ud < <(proc_drops)
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	awk -v s="$sent" -v qd="$qd" -v ud="$ud" \
		'/^packets/ { print $2, $4, $6, s, qd, ud }' "$log"
}

cpu_ticks() {	# utime + stime of a process, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

verdicts() {	# verdicts of queue 0 as fwctl status --json says
	ip netns exec "$SRV" "$FWCTL" -S "$SCRATCH/fwd.sock" status --json |
		sed -n 's/.*"verdicts":\([0-9]*\).*/\1/p'
}

run_daemon() {	# run_daemon RATE -> "packets cpu_s busy_s sent qd ud"
	local rate=$1 log=$SCRATCH/fwd.log pid sent t0 t1 v0 v1 hz
	hz=$(getconf CLK_TCK)
	: >"$log"
	ip netns exec "$SRV" taskset -c "$LOOP_CPU" "$FWD" -c "$SCRATCH/guard.conf" \
		--state-dir "" -S "$SCRATCH/fwd.sock" >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 50); do grep -q "bound queue 0" "$log" && break; sleep 0.1; done
	grep -q "bound queue 0" "$log" || die "fwd did not bind: $(cat "$log")"
	v0=$(verdicts); t0=$(cpu_ticks "$pid")
	sent=$(ip netns exec "$GEN" taskset -c "$FLOOD_CPU" "$NETTOOL" flood udp \
		192.0.2.1 $PORT --rate "$rate" --timeout "$DURATION" |
		awk '{ print $2 }')
	sleep 0.3
	t1=$(cpu_ticks "$pid"); v1=$(verdicts)
	read -r qd ud < <(proc_drops)
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	awk -v p=$(( v1 - v0 )) -v c=$(( t1 - t0 )) -v hz="$hz" -v d="$DURATION" \
		-v s="$sent" -v qd="$qd" -v ud="$ud" \
		'BEGIN { print p, c / hz, d, s, qd, ud }'
}

{
	echo "# bench/queue.sh $(date -u +%FT%TZ) $(uname -r), RUNS=$RUNS" \
	     "DURATION=$DURATION RATE=$RATE LOOP_CPU=$LOOP_CPU FLOOD_CPU=$FLOOD_CPU"
	echo "# round phase loop packets cpu_s busy_s sent queue_dropped user_dropped"
} >"$OUT"

for r in $(seq "$RUNS"); do
	order="min fwd daemon"
	[ $(( r % 2 )) -eq 0 ] && order="daemon fwd min"
	for phase in fixed max; do
		rate=$RATE
		[ "$phase" = max ] && rate=0
		for l in $order; do
			# Each loop binds queue 0 anew: the kernel's drop
			# counters start again with it.
			if [ "$l" = daemon ]; then
				echo "$r $phase $l $(run_daemon "$rate")" >>"$OUT"
			else
				echo "$r $phase $l $(run_one "$l" "$rate")" >>"$OUT"
			fi
			sleep 0.3
		done
	done
done

awk '
	!/^#/ {
		cpu = $5 / ($4 > 0 ? $4 : 1) * 1e6; rate = $6 > 0 ? $4 / $6 : 0
		if ($2 == "fixed") c[$1, $3] = cpu; else { v[$1, $3] = rate
			qd[$3] += $8; ud[$3] += $9; sent[$3] += $7; got[$3] += $4 }
		if ($1 > rounds) rounds = $1
	}
	function med(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		for (i = 1; i <= rounds; i++) {
			cm[i] = c[i, "min"]; cf[i] = c[i, "fwd"]; cr[i] = cf[i] / cm[i]
			vm[i] = v[i, "min"]; vf[i] = v[i, "fwd"]; vr[i] = vf[i] / vm[i]
			cd[i] = c[i, "daemon"]; cdr[i] = cd[i] / cm[i]
			vd[i] = v[i, "daemon"]; vdr[i] = vd[i] / vm[i]
		}
		printf "%-22s %14s %14s %8s\n", "", "nfq-min", "fwd queue.c", "ratio"
		printf "%-22s %14.2f %14.2f %8.2f\n", "CPU us/packet (fixed)",
			med(cm, rounds), med(cf, rounds), med(cr, rounds)
		printf "%-22s %14.0f %14.0f %8.2f\n", "verdicts/s (max)",
			med(vm, rounds), med(vf, rounds), med(vr, rounds)
		printf "%-22s %14d %14d\n", "queue_dropped (max)", qd["min"], qd["fwd"]
		printf "%-22s %14d %14d\n", "user_dropped (max)", ud["min"], ud["fwd"]
		printf "%-22s %14d %14d\n", "sent (max)", sent["min"], sent["fwd"]
		printf "%-22s %14d %14d\n", "verdicted (max)", got["min"], got["fwd"]
		printf "\n%-22s %14s %14s %8s\n", "", "nfq-min", "fwd daemon", "ratio"
		printf "%-22s %14.2f %14.2f %8.2f\n", "CPU us/packet (fixed)",
			med(cm, rounds), med(cd, rounds), med(cdr, rounds)
		printf "%-22s %14.0f %14.0f %8.2f\n", "verdicts/s (max)",
			med(vm, rounds), med(vd, rounds), med(vdr, rounds)
		printf "%-22s %14d %14d\n", "queue_dropped (max)", qd["min"], qd["daemon"]
		printf "%-22s %14d %14d\n", "user_dropped (max)", ud["min"], ud["daemon"]
		printf "%-22s %14d %14d\n", "sent (max)", sent["min"], sent["daemon"]
		printf "%-22s %14d %14d\n", "verdicted (max)", got["min"], got["daemon"]
	}' "$OUT" | tee -a "$OUT"
echo "raw runs and table: $OUT"
