#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What the program rules' label accept costs a TCP connection, alone
# (issue 12, UDP flows): two pairs of namespaces with the same minimal
# stateful ruleset, one of them with, in front of the port's accept, a
# rule shaped like fwd's label accept that a SYN misses
# (`ct state new ct label 127 ip daddr . meta l4proto . th dport @s accept`,
# @s holding the destination: a SYN has no label, so it pays the ct state
# and label loads and compares, no lookup). The `ct label` expression also
# makes the kernel attach the labels extension to every new conntrack of
# that namespace, which is in the price. New TCP connections one at a time
# (bench/conn-rate.c), paired, alternating rounds; the client's CPU per
# connection (system time of its connect()) and the rate, label/plain per
# round, medians.
#
#   sudo bench/ctlabel.sh
#   sudo RUNS=15 SECS=2 bench/ctlabel.sh

. "$(dirname "$0")/lib.sh"

RATE=${CONN_RATE:-$BUILD/tests/conn-rate}
RUNS=${RUNS:-11}
SECS=${SECS:-2}
PORT=8443

need_tools
[ -x "$RATE" ] || die "no conn-rate at $RATE (build first)"
start_report ctlabel

pair() {	# pair NAME [LABEL-RULE]: NAME-cli -> NAME-srv, server up, ruleset in cli
	local c s
	ns_add c "$1-cli"
	ns_add s "$1-srv"
	ip link add "lo$$" netns "$c" type veth peer name "li$$" netns "$s"
	ip -n "$c" addr add 198.18.0.1/24 dev "lo$$"
	ip -n "$s" addr add 198.18.0.2/24 dev "li$$"
	ip -n "$c" link set "lo$$" up
	ip -n "$s" link set "li$$" up
	ip netns exec "$s" "$RATE" serve 198.18.0.2 "$PORT" 100000 >"$SCRATCH/$1-serve.log" 2>&1 &
	disown
	for _ in $(seq 50); do grep -q ready "$SCRATCH/$1-serve.log" && break; sleep 0.1; done
	grep -q ready "$SCRATCH/$1-serve.log" || die "server $1 did not start"
	ip netns exec "$c" nft -f - <<NFT || die "cannot load the $1 ruleset"
table inet bench {
	set s {
		type ipv4_addr . inet_proto . inet_service
		elements = { 198.18.0.2 . tcp . $PORT }
	}
	chain output {
		type filter hook output priority filter; policy accept;
		ct state established,related accept
		${2:-}
		tcp dport $PORT accept
		drop
	}
}
NFT
	eval "NS_$1=$c"
}

rate() {	# rate NAME: "RATE CPU_US"
	local ns=NS_$1
	ip netns exec "${!ns}" "$RATE" connect 198.18.0.2 "$PORT" "$SECS" |
		awk '{ if ($8 != 0) { print "fails " $8 > "/dev/stderr"; exit 1 } print $6, $10 }'
}

pair plain
pair label "ct state new ct label 127 ip daddr . meta l4proto . th dport @s accept"

report "# ctlabel $(date -u +%FT%TZ) RUNS=$RUNS SECS=$SECS, load $(cut -d' ' -f1-3 /proc/loadavg)"
report "round plain:rate/cpu label:rate/cpu rate(label/plain) cpu(plain/label) load1"
for r in $(seq "$RUNS"); do
	# Alternate which goes first, so order effects cancel.
	if [ $((r % 2)) -eq 1 ]; then set -- plain label; else set -- label plain; fi
	for c in "$@"; do read -r "R_$c" "C_$c" < <(rate "$c"); done
	rr=$(awk -v a="$R_label" -v b="$R_plain" 'BEGIN { printf "%.3f", a / b }')
	cr=$(awk -v a="$C_plain" -v b="$C_label" 'BEGIN { printf "%.3f", a / b }')
	echo "$rr" >>"$SCRATCH/rr"
	echo "$cr" >>"$SCRATCH/cr"
	report "$r $R_plain/$C_plain $R_label/$C_label $rr $cr $(cut -d' ' -f1 /proc/loadavg)"
done
report "median label/plain: rate $(median <"$SCRATCH/rr"), cpu (plain/label: 1.0 = no cost) $(median <"$SCRATCH/cr")"
report "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
