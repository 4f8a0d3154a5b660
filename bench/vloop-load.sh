#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The verdict loop under load: the real fwd (a [guard] with flood = off, so
# every new flow is queued; records to the ring and the log, capped as in
# production), flooded from many sources (bench/flood-src: raw IPv4, the
# source stepping through SOURCES addresses of 198.18.0.0/15, a new port
# each packet).
#
#   gen 192.0.2.2 --veth-- srv 192.0.2.1 (route to 198.18.0.0/15 via gen,
#   so the reverse-path check lets the sources in)
#
# Four measurements, each against a baseline taken in the same run:
#   1. max:     verdicts/s with `queues = 1` and `queues = 2` (RUNS rounds,
#               order alternating), the flood unpaced for DURATION s and
#               pinned to FLOOD_CPU. On a 2-CPU machine the flood and the
#               kernel's enqueueing (veth: softirq on the sending CPU) take
#               one CPU, so the loop is never the bottleneck and a second
#               worker has no CPU of its own. So each worker thread gets a
#               CPU budget of its own instead: a cgroup (v1 cpu) per
#               worker thread with CAP% of a CPU (cfs quota, 20 ms
#               period), as if each had a core CAP% as fast. The loop then
#               saturates (the kernel's queue_dropped says so) and
#               queues=2 / queues=1 is how the loop scales with cores
#               (lock, hashing, batching). Also: all workers' CPU per
#               verdict (/proc/PID/task/TID/stat), the per-queue split,
#               and an uncapped queues=1 run: the most this machine's
#               generator offers, which the hold below takes 80% of.
#   2. hold:    80% of the median uncapped maximum for HOLD s (60): the
#               kernel's queue_dropped and user_dropped over the hold
#               (target: 0), fwd's VmRSS every second.
#   3. memory:  RSS growth over the hold: last sample / the sample after
#               WARM s (target: under 1.10).
#   4. status:  `fwctl status` latency p50/p99 while the same 80% flood
#               runs, against the same requests with no flood; timed inside
#               srv by one shell already there (no `ip netns exec` in it).
#
#   sudo bench/vloop-load.sh                        # RUNS=3 DURATION=3 HOLD=60
#   sudo SOURCES=4096 HOLD=30 bench/vloop-load.sh

. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
DURATION=${DURATION:-3}
HOLD=${HOLD:-60}
WARM=${WARM:-5}
SOURCES=${SOURCES:-1024}
CAP=${CAP:-5}
NREQ=${NREQ:-200}
NCPU=$(nproc)
FLOOD_CPU=${FLOOD_CPU:-$(( NCPU - 1 ))}
FLOOD=${FLOOD_SRC:-$BUILD/tests/flood-src}
FWCTL=${FWCTL_BIN:-$BUILD/ctl/fwctl}
PORT=9

need_tools taskset awk
for t in "$FLOOD" "$FWCTL"; do
	[ -x "$t" ] || die "no $t (build first: sh scripts/build.sh)"
done
start_report vloop-load
CG_ROOT=/sys/fs/cgroup/cpu
[ -w "$CG_ROOT/cpu.cfs_quota_us" ] || die "needs the cgroup v1 cpu controller at $CG_ROOT"
CGS=()
cg_cleanup() {
	local cg
	bench_cleanup
	for cg in "${CGS[@]}"; do rmdir "$cg" 2>/dev/null || true; done
}
trap cg_cleanup EXIT

ns_add GEN gen
ns_add SRV srv
ip -n "$SRV" link add eth0 type veth peer name eth0 netns "$GEN"
ip -n "$SRV" addr add 192.0.2.1/24 dev eth0
ip -n "$GEN" addr add 192.0.2.2/24 dev eth0
ip -n "$SRV" link set eth0 up
ip -n "$GEN" link set eth0 up
ip -n "$SRV" route add 198.18.0.0/15 via 192.0.2.2 dev eth0

policy() {	# policy QUEUES -> file
	cat >"$SCRATCH/q$1.conf" <<EOF
[defaults]
inbound = deny
log = off
queues = $1
[guard]
flood = off
[service web]
ports = 8080/tcp
allow = any
EOF
	echo "$SCRATCH/q$1.conf"
}

# Each worker thread of fwd into a cgroup of its own with CAP% of a CPU.
cap_workers() {
	local t i=0 cg
	for t in /proc/"$FWD_PID"/task/*; do
		[ "${t##*/}" = "$FWD_PID" ] && continue
		cg=$CG_ROOT/${NS_PREFIX}w$i
		if [ ! -d "$cg" ]; then
			mkdir "$cg"
			CGS+=("$cg")
			echo 20000 >"$cg/cpu.cfs_period_us"
			echo $(( CAP * 200 )) >"$cg/cpu.cfs_quota_us"
		fi
		echo "${t##*/}" >"$cg/tasks"
		i=$(( i + 1 ))
	done
}

FWD_PID=
fwd_up() {	# fwd_up QUEUES: start fwd in srv, wait until every queue is bound
	local conf log=$SCRATCH/fwd.log q
	conf=$(policy "$1")
	: >"$log"
	ip netns exec "$SRV" "$FWD" -c "$conf" --state-dir "" -S "$SCRATCH/fwd.sock" \
		>"$log" 2>&1 &
	FWD_PID=$!
	for q in $(seq 0 $(( $1 - 1 ))); do
		for _ in $(seq 100); do grep -q "bound queue $q" "$log" && break; sleep 0.1; done
		grep -q "bound queue $q" "$log" || die "fwd did not bind queue $q: $(cat "$log")"
	done
}

fwd_down() {
	kill -TERM "$FWD_PID" 2>/dev/null || true
	wait "$FWD_PID" 2>/dev/null || true
	FWD_PID=
	sleep 0.3
}

status_json() {
	ip netns exec "$SRV" "$FWCTL" -S "$SCRATCH/fwd.sock" status --json
}

verdicts_per_queue() {	# "v0 v1 ..." from status --json
	status_json | grep -o '"verdicts":[0-9]*' | cut -d: -f2 | tr '\n' ' '
}

proc_drops() {	# sum of queue_dropped and user_dropped over fwd's queues
	ip netns exec "$SRV" cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null |
		awk '{ qd += $6; ud += $7 } END { print qd + 0, ud + 0 }'
}

thread_ticks() {	# "tid:ticks ..." of fwd's threads but the main one
	local t
	for t in /proc/"$FWD_PID"/task/*; do
		[ "${t##*/}" = "$FWD_PID" ] && continue
		awk -v t="${t##*/}" '{ printf "%s:%d ", t, $14 + $15 }' "$t/stat"
	done
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$FWD_PID/status"; }

flood() {	# flood RATE(0 = unpaced) SECS -> "sent N ..." line
	local rate=()
	[ "$1" != 0 ] && rate=(--rate "$1")
	ip netns exec "$GEN" taskset -c "$FLOOD_CPU" "$FLOOD" 192.0.2.1 $PORT \
		--sources "$SOURCES" "${rate[@]}" --timeout "$2"
}

# Memory first touched, caches warm: one unmeasured flood.
fwd_up 1
flood 0 2 >/dev/null
fwd_down

report "# RUNS=$RUNS DURATION=$DURATION HOLD=$HOLD SOURCES=$SOURCES FLOOD_CPU=$FLOOD_CPU"
report "# CAP=$CAP% of a CPU per worker in the capped runs (c1, c2); u1: queues=1 uncapped"
report "# round config verdicts/s sent/s per-queue-verdicts worker-cpu-us/verdict queue_dropped user_dropped"
HZ=$(getconf CLK_TCK)
for r in $(seq "$RUNS"); do
	order="c1 c2 u1"
	[ $(( r % 2 )) -eq 0 ] && order="u1 c2 c1"
	for cfg in $order; do
		q=${cfg#?}
		fwd_up "$q"
		[ "${cfg%?}" = c ] && cap_workers
		v0=$(verdicts_per_queue); t0=$(thread_ticks); read -r qd0 ud0 < <(proc_drops)
		sent=$(flood 0 "$DURATION" | awk '{ print $2 }')
		sleep 0.3
		v1=$(verdicts_per_queue); t1=$(thread_ticks); read -r qd1 ud1 < <(proc_drops)
		fwd_down
		# Per queue verdicts, their sum; CPU per packet of each worker
		# thread (all its CPU over all packets of the round / workers).
		line=$(awk -v v0="$v0" -v v1="$v1" -v t0="$t0" -v t1="$t1" -v hz="$HZ" \
			-v d="$DURATION" -v s="$sent" -v q="$q" 'BEGIN {
			n = split(v0, a, " "); split(v1, b, " "); tot = 0; per = ""
			for (i = 1; i <= n; i++) { x = b[i] - a[i]; tot += x; per = per x "/" }
			split(t0, c, " "); m = split(t1, e, " "); cpu = 0; nw = 0
			for (i = 1; i <= m; i++) { split(e[i], ee, ":"); split(c[i], cc, ":")
				cpu += ee[2] - cc[2]; nw++ }
			us = tot > 0 ? cpu / hz / tot * 1e6 : 0
			printf "%.0f %.0f %s %.2f", tot / d, s / d, per, us
		}')
		report "$r $cfg $line $(( qd1 - qd0 )) $(( ud1 - ud0 ))"
	done
done

# Medians per configuration, and the ratio of the per-round ratios.
awk '
	!/^#/ && NF >= 7 && $2 ~ /^[cu][12]$/ { v[$1, $2] = $3; c[$1, $2] = $6; d[$1, $2] = $7
		if ($1 > n) n = $1 }
	function med(a, k,   i, j, t) {
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
			if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		sat = 1
		for (i = 1; i <= n; i++) { v1[i] = v[i, "c1"]; v2[i] = v[i, "c2"]
			r[i] = v[i, "c2"] / v[i, "c1"]; u[i] = v[i, "u1"]
			c1[i] = c[i, "c1"]; c2[i] = c[i, "c2"]; cr[i] = c[i, "c2"] / c[i, "c1"]
			if (d[i, "c1"] == 0 || d[i, "c2"] == 0) sat = 0 }
		printf "max verdicts/s, each worker capped at %d%% of a CPU: queues=1 %.0f, queues=2 %.0f, ratio %.2f%s\n",
			cap, med(v1, n), med(v2, n), med(r, n),
			sat ? " (saturated: the kernel dropped in every run)" : " (NOT saturated in every run: flood-limited)"
		printf "fwd worker CPU us per verdict (all workers, capped): queues=1 %.2f, queues=2 %.2f, ratio %.2f\n",
			med(c1, n), med(c2, n), med(cr, n)
		printf "uncapped queues=1: %.0f verdicts/s (what the flood offers here)\n", med(u, n)
	}' cap="$CAP" "$REPORT" | tee -a "$REPORT"
MAX1=$(awk '!/^#/ && NF >= 7 && $2 == "u1" { print $3 }' "$REPORT" | median)

# 2 + 3: 80% of the queues=1 maximum for HOLD s; drops and RSS.
RATE=$(awk -v m="$MAX1" 'BEGIN { printf "%.0f", m * 0.8 }')
fwd_up 1
read -r qd0 ud0 < <(proc_drops)
v0=$(verdicts_per_queue)
flood "$RATE" "$HOLD" >"$SCRATCH/hold.out" &
FPID=$!
: >"$SCRATCH/rss"
for s in $(seq "$HOLD"); do
	sleep 1
	echo "$s $(rss_kb) $(proc_drops | tr ' ' /)" >>"$SCRATCH/rss"
done
wait "$FPID" || true
sleep 0.3
read -r qd1 ud1 < <(proc_drops)
v1=$(verdicts_per_queue)
sent=$(awk '{ print $2 }' "$SCRATCH/hold.out")
report "# hold: $RATE/s offered (80% of $MAX1) for $HOLD s: sent $sent, verdicts $(( ${v1% } - ${v0% } )), queue_dropped $(( qd1 - qd0 )), user_dropped $(( ud1 - ud0 ))"
report "# flood: $(cat "$SCRATCH/hold.out")"
report "# per second (s RSS-KiB queue_dropped/user_dropped): $(tr '\n' ' ' <"$SCRATCH/rss")"
awk -v w="$WARM" '$1 == w { a = $2 } { z = $2; if ($2 > m) m = $2 }
	END { printf "memory over the hold: RSS %d KiB after %d s, %d KiB at the end (max %d): growth %.3f\n",
		a, w, z, m, z / a }' "$SCRATCH/rss" | tee -a "$REPORT"
fwd_down

# 4: `fwctl status` latency, no flood and then under the 80% flood, two
# ways, both timed inside srv by one process already there (no `ip netns
# exec` in the timing): "socket", a Python client speaking the control
# protocol (common/proto.h: connect, one request, the whole answer), which
# is what fwd adds; and "fwctl", a shell running fwctl, which adds fork and
# exec of the client on this loaded machine.
cat >"$SCRATCH/lat.py" <<'PY'
import socket, struct, sys, time
path, n = sys.argv[1], int(sys.argv[2])
arg = b"status"
body = struct.pack(">HI", 2, len(arg)) + arg
req = b"FWDC" + struct.pack(">BBHI", 1, 1, 0, len(body)) + body
for _ in range(n):
    t0 = time.perf_counter()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(req)
    got = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        got += c
    s.close()
    t1 = time.perf_counter()
    if got[:4] != b"FWDC" or len(got) < 12:
        print("fail")
    print("%.3f" % ((t1 - t0) * 1000))
    time.sleep(0.05)
PY
time_socket() {	# -> one latency in ms per line
	ip netns exec "$SRV" python3 "$SCRATCH/lat.py" "$SCRATCH/fwd.sock" "$NREQ"
}
time_fwctl() {
	ip netns exec "$SRV" bash -c '
		for i in $(seq '"$NREQ"'); do
			t0=$EPOCHREALTIME
			"$0" -S "$1" status >/dev/null || echo fail
			t1=$EPOCHREALTIME
			echo "$t0 $t1" | awk "{ printf \"%.3f\\n\", (\$2 - \$1) * 1000 }"
			sleep 0.05
		done' "$FWCTL" "$SCRATCH/fwd.sock"
}
pct() {	# pct P < numbers
	sort -g | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i] }'
}
fwd_up 1
time_socket >"$SCRATCH/sock.idle"
time_fwctl >"$SCRATCH/fwctl.idle"
flood "$RATE" 600 >/dev/null &
FPID=$!
sleep 1
time_socket >"$SCRATCH/sock.flood"
time_fwctl >"$SCRATCH/fwctl.flood"
kill -TERM "$FPID" 2>/dev/null || true
wait "$FPID" 2>/dev/null || true
fwd_down
for f in sock fwctl; do
	grep -q fail "$SCRATCH/$f.idle" "$SCRATCH/$f.flood" && die "a status request failed ($f)"
	i50=$(pct 50 <"$SCRATCH/$f.idle"); i99=$(pct 99 <"$SCRATCH/$f.idle")
	f50=$(pct 50 <"$SCRATCH/$f.flood"); f99=$(pct 99 <"$SCRATCH/$f.flood")
	report "status via $f ($NREQ each): idle p50 $i50 ms p99 $i99 ms; under $RATE/s from $SOURCES sources p50 $f50 ms p99 $f99 ms; p99 ratio $(awk -v a="$f99" -v b="$i99" 'BEGIN { printf "%.2f", a / b }')"
done
echo "raw runs and table: $REPORT"
