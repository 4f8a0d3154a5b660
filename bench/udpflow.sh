#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# One-way UDP through a `program =` rule (issue 12): a client sends COUNT
# datagrams (default 3000) on one flow at RATE a second (default 3000) to
# a sink that never answers, in paired, alternating rounds (each round a
# new flow: a new socket, a new source port):
#   none: no fwd at all;
#   prog: fwd in cli, outbound = deny, the sink's port allowed to the
#     program nettool (program_limit left at its default, 1000/1s);
#   progold: the same with FWD_OLD (an fwd before the UDP flow label),
#     when given.
# Per round and configuration: the datagrams the sink got (of COUNT), the
# packets queue 16 got (its id sequence in /proc/net/netfilter/
# nfnetlink_queue: what reached userspace), and fwd's CPU time (user +
# system, /proc/PID/stat, in clock ticks: 10 ms) per datagram sent, and
# what fwd spends idle over as long (its workers' 200 ms wake-ups).
# Medians over RUNS rounds.
#
#   sudo bench/udpflow.sh
#   sudo RUNS=5 FWD_OLD=/path/to/older/fwd bench/udpflow.sh

. "$(dirname "$0")/lib.sh"

FWCTL=${FWCTL_BIN:-$BUILD/ctl/fwctl}
RUNS=${RUNS:-5}
COUNT=${COUNT:-3000}
RATE=${RATE:-3000}
PORT=8514

need_tools
[ -x "$NETTOOL" ] || die "no nettool at $NETTOOL (build first)"
start_report udpflow
PROG=$(readlink -f "$NETTOOL")

pair() {	# pair NAME: namespaces NAME-cli and NAME-srv, linked
	local c s
	ns_add c "$1-cli"
	ns_add s "$1-srv"
	ip link add "uo$$" netns "$c" type veth peer name "ui$$" netns "$s"
	ip -n "$c" addr add 198.18.0.1/24 dev "uo$$"
	ip -n "$s" addr add 198.18.0.2/24 dev "ui$$"
	ip -n "$c" link set "uo$$" up
	ip -n "$s" link set "ui$$" up
	eval "NS_$1=$c"
	eval "NSS_$1=$s"
}

fwd_in() {	# fwd_in NAME: fwd (FWD_THIS or FWD) in NAME-cli with the rule
	local ns=NS_$1
	cat >"$SCRATCH/$1.conf" <<POL
[defaults]
outbound = deny

[service stats]
direction = out
ports = $PORT/udp
allow = 198.18.0.2
program = $PROG
POL
	mkdir -m 0700 "$SCRATCH/$1-state"
	ip netns exec "${!ns}" "${FWD_THIS:-$FWD}" -c "$SCRATCH/$1.conf" \
		--state-dir "$SCRATCH/$1-state" -S "$SCRATCH/$1.sock" \
		>"$SCRATCH/$1-fwd.log" 2>&1 &
	eval "FWDPID_$1=$!"
	disown
	for _ in $(seq 100); do grep -q "bound queue 16" "$SCRATCH/$1-fwd.log" && break; sleep 0.1; done
	grep -q "bound queue 16" "$SCRATCH/$1-fwd.log" || die "fwd ($1): $(cat "$SCRATCH/$1-fwd.log")"
}

fwd_cpu_us() {	# fwd_cpu_us NAME: CPU time (us) of NAME's fwd so far, 0 without
	local p=FWDPID_$1
	[ -n "${!p:-}" ] || { echo 0; return; }
	awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.0f\n", ($12 + $13) * 1e6 / t }' \
		"/proc/${!p}/stat"
}

queued() {	# queued NAME: the program queues' id sequences in NAME-cli, summed
	local ns=NS_$1	# (16 and up: one per CPU)
	ip netns exec "${!ns}" awk '$1 >= 16 && $1 < 32 { n += $8 } END { print n + 0 }' \
		/proc/net/netfilter/nfnetlink_queue
}

round() {	# round NAME: "DELIVERED QUEUED CPU_US_PER_DATAGRAM"
	local ns=NS_$1 nss=NSS_$1 q0 c0 q1 c1 got
	ip netns exec "${!nss}" "$NETTOOL" sink udp 198.18.0.2 "$PORT" --count "$COUNT" \
		--timeout 30 >"$SCRATCH/$1-sink.log" 2>&1 &
	local sink=$!
	for _ in $(seq 50); do grep -q ready "$SCRATCH/$1-sink.log" && break; sleep 0.1; done
	q0=$(queued "$1"); c0=$(fwd_cpu_us "$1")
	ip netns exec "${!ns}" "$NETTOOL" send udp 198.18.0.2 "$PORT" --count "$COUNT" \
		--rate "$RATE" --timeout 30 >"$SCRATCH/$1-send.log" 2>&1 ||
		die "sender ($1): $(cat "$SCRATCH/$1-send.log")"
	# What is still on its way: a short settle, then the sink is asked
	# to stop (it says what it got).
	sleep 0.5
	kill -TERM "$sink" 2>/dev/null || true
	wait "$sink" 2>/dev/null || true
	q1=$(queued "$1"); c1=$(fwd_cpu_us "$1")
	got=$(awk '/^count / { print $2 }' "$SCRATCH/$1-sink.log")
	echo "${got:-0} $((q1 - q0)) $(awk -v a="$c0" -v b="$c1" -v n="$COUNT" 'BEGIN { printf "%.2f", (b - a) / n }')"
}

idle() {	# idle NAME: fwd's CPU (us) over as long as a round sends, sending nothing
	local c0
	c0=$(fwd_cpu_us "$1")
	sleep "$(awk -v n="$COUNT" -v r="$RATE" 'BEGIN { print n / r + 0.5 }')"
	echo $(( $(fwd_cpu_us "$1") - c0 ))
}

pair none
pair prog
fwd_in prog
CFGS="none prog"
if [ -n "${FWD_OLD:-}" ]; then
	[ -x "$FWD_OLD" ] || die "FWD_OLD=$FWD_OLD is not an executable"
	pair progold
	FWD_THIS=$FWD_OLD fwd_in progold
	CFGS="$CFGS progold"
fi

report "# udpflow $(date -u +%FT%TZ) COUNT=$COUNT RATE=$RATE/s RUNS=$RUNS, load $(cut -d' ' -f1-3 /proc/loadavg)"
report "# per config: delivered/sent queued fwd_cpu_us_per_datagram"
report "round $(echo $CFGS | sed 's/\([a-z]*\)/\1:got\/queued\/cpu/g') load1"
for r in $(seq "$RUNS"); do
	line="$r"
	for c in $CFGS; do
		set -- $(round "$c")
		line="$line $1/$2/$3"
		echo "$1" >>"$SCRATCH/got-$c"
		echo "$2" >>"$SCRATCH/q-$c"
		echo "$3" >>"$SCRATCH/cpu-$c"
	done
	report "$line $(cut -d' ' -f1 /proc/loadavg)"
	for c in $CFGS; do
		[ "$c" = none ] || idle "$c" >>"$SCRATCH/idle-$c"
	done
done
for c in $CFGS; do
	report "median $c: delivered $(median <"$SCRATCH/got-$c") of $COUNT," \
		"queued $(median <"$SCRATCH/q-$c"), fwd CPU $(median <"$SCRATCH/cpu-$c") us per datagram" \
		"$([ "$c" = none ] || echo "(idle, as long, nothing sent: $(median <"$SCRATCH/idle-$c") us in all)")"
done
report "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
