#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Data path: packets/s an allowed host gets through fwd's table when the
# allowlist holds 100k entries, against the same with 10 entries (target:
# at least 0.9x), against a minimal stateful ruleset holding the same
# entries (target: at least 0.95x, at 10 and at 100k), and against no
# firewall at all (for context).
#
# The minimal ruleset ("minN": N entries) is what any stateful allowlist
# needs and nothing more, loaded with nft -f:
#   iif "lo" accept; ct state established,related accept;
#   ct state invalid drop; ip saddr . meta l4proto . th dport @allow accept;
#   drop
# Its set has the flags fwd's allow4 has (timeout, and a counter per
# element unless MIN_COUNTER=no), so that the ratio prices fwd's chain, not
# the set; it has no reverse-path check (fwd's default has one: compare
# "Nnorpf" with "minN" to leave it out, "N" with "minN" to count it in).
# "minNrpf" is minN plus exactly fwd's reverse-path rule (rpfilter =
# strict) where fwd has it, after the loopback accept, before ct state:
#   fib saddr . mark . iif oif missing drop
# so N/minNrpf prices fwd's chain apart from the anti-spoofing check and
# minNrpf/minN the check itself.
#
# One pair of namespaces per configuration, gen --veth-- srv:
#   gen 192.0.2.2 floods srv 192.0.2.1 port 5001/udp with nettool: raw
#   datagrams, a new source port each, so every packet is a new conntrack
#   flow and goes through the rules and the set lookup;
#   srv runs `fwd --oneshot` with a policy allowing 5001/udp from a list file
#   (gen's address + N-1 others from 198.18.0.0/15), plus our own table
#   `inet fwdbench` at input priority 300 that counts what fwd let through
#   and drops it (no socket, no ICMP replies: only the filter path is timed).
# On veth the receive path runs on the sending CPU, so the flood is pinned to
# one CPU and packets/s counted after fwd measure the cost per packet.
# RUNS rounds; each round runs every configuration for DURATION seconds,
# back to back (in alternating order); the ratio is the median of the
# per-round ratios, so slow drift in the machine's load cancels out.
#
# Then the paired bursts (PAIR_SECS seconds, default 20; 0 leaves them
# out): bench/flowpair.c floods every configuration's srv from one thread,
# BURST packets (default 2000) to each in turn, a new random order every
# cycle of a few tens of milliseconds, and takes the thread's CPU time per
# burst. Its ratios (B's CPU per packet over A's, per cycle, median: flows
# per CPU-second) do not move with the share of the CPU other work leaves
# the flood, and every configuration sees the same machine within
# milliseconds: on the shared 2-CPU machine they repeat within 0.01-0.02
# between runs where the rate ratios move +-0.1 and more (bench/README.md).
# An A/A pair (FWD_OLD = this build) shows the floor of that noise.
#
#   sudo bench/datapath.sh        # CONFIGS="none min10 10 min100000 100000" RUNS=10 DURATION=1
#   sudo RUNS=9 DURATION=3 bench/datapath.sh
#   sudo CONFIGS="10 100000 10net 30000net" bench/datapath.sh
#   sudo CONFIGS="min10 10 10norpf" bench/datapath.sh
#   sudo CONFIGS="min10 min10rpf 10 min100000 min100000rpf 100000" PAIR_SECS=60 bench/datapath.sh
# A config "oldN" is N with another fwd build, FWD_OLD=/path/to/fwd (the
# same configs in the same rounds: a paired before/after of a change).
#   sudo FWD_OLD=/tmp/old/build/daemon/fwd CONFIGS="min10 old10 10" bench/datapath.sh
# A config "Nnet" allows N networks (/30s, gen's own among them) instead of
# N single addresses: fwd puts those in an interval set, not a hash set.
# A config ending in "norpf" ("10norpf") is the same with [defaults]
# rpfilter = no: CONFIGS="10 10norpf" prices the reverse-path check (the
# default, strict) per packet, as pps(10norpf)/pps(10).
# A config ending in "ifaceK" ("10iface1", "10iface8") gives the flood's
# service `interface = eth0` behind K-1 other interface-only services
# (other ports, other interfaces): the flood is accepted by the K-th
# restricted class (ir.h, fwd_ir_class), after the shared lookups missed,
# so CONFIGS="10 10iface1 10iface8" prices a class and the classes in
# front of it per new flow.
# A config "nft-NAME" loads $NFT_DIR/NAME.nft with nft -f as it is: a
# hand-made variant of fwd's table (fwd -n's output, edited) to price one
# rule or layout against "10" before changing the compiler.

. "$(dirname "$0")/lib.sh"

CONFIGS=${CONFIGS:-"none min10 10 min100000 100000"}
MIN_COUNTER=${MIN_COUNTER:-yes}
RUNS=${RUNS:-10}
DURATION=${DURATION:-1}
CPU=${CPU:-$(( $(nproc) - 1 ))}
PORT=5001

PAIR_SECS=${PAIR_SECS:-20}
BURST=${BURST:-2000}
FLOWPAIR=${FWD_FLOWPAIR:-$BUILD/tests/flowpair}

need_tools taskset awk
[ -x "$NETTOOL" ] || die "no nettool at $NETTOOL (build first, or set FWD_NETTOOL)"
[ "$PAIR_SECS" = 0 ] || [ -x "$FLOWPAIR" ] ||
	die "no flowpair at $FLOWPAIR (build first, or set FWD_FLOWPAIR, or PAIR_SECS=0)"

declare -A GEN SRV
setup_pair() {	# setup_pair CONFIG
	local c=$1 g s pol n rpf= fwd=$FWD
	ns_add g "gen-$c"
	ns_add s "srv-$c"
	GEN[$c]=$g SRV[$c]=$s
	ip -n "$s" link add eth0 type veth peer name eth0 netns "$g"
	ip -n "$s" addr add 192.0.2.1/24 dev eth0
	ip -n "$g" addr add 192.0.2.2/24 dev eth0
	ip -n "$s" link set eth0 up
	ip -n "$g" link set eth0 up
	ip netns exec "$s" nft -f - <<-EOF
	table inet fwdbench {
		counter pkts { }
		chain post {
			type filter hook input priority 300; policy accept;
			udp dport $PORT counter name "pkts" drop
		}
	}
	EOF
	[ "$c" = none ] && return 0
	case $c in
	min*) setup_min "$s" "${c#min}"; return 0 ;;
	nft-*)	ip netns exec "$s" nft -f "${NFT_DIR:?"config $c needs NFT_DIR"}/${c#nft-}.nft" ||
			die "nft -f $NFT_DIR/${c#nft-}.nft failed"
		return 0 ;;
	esac
	pol=$SCRATCH/policy-$c.conf
	n=$c
	case $n in old*) n=${n#old} fwd=${FWD_OLD:?"config $c needs FWD_OLD"} ;; esac
	case $n in *norpf) n=${n%norpf} rpf="rpfilter = no" ;; esac
	local ifk=0 others= i
	case $n in *iface*) ifk=${n##*iface} n=${n%iface*} ;; esac
	for i in $(seq 1 $((ifk - 1))); do
		others+="[service other$i]"$'\n'"ports = $((6000 + i))/udp"$'\n'
		others+="allow = any"$'\n'"interface = xif$i"$'\n'
	done
	case $n in
	*net) gen_nets "${n%net}" 192.0.2.0/30 > "$SCRATCH/list-$c.txt" ;;
	*)    gen_sources "$n" 192.0.2.2 > "$SCRATCH/list-$c.txt" ;;
	esac
	cat > "$pol" <<-EOF
	[defaults]
	inbound = deny
	outbound = allow
	$rpf
	[list bench]
	file = $SCRATCH/list-$c.txt
	$others
	[service flood]
	ports = $PORT/udp
	allow = @bench
	$([ "$ifk" -gt 0 ] && echo "interface = eth0")
	EOF
	ip netns exec "$s" "$fwd" --oneshot --state-dir '' -c "$pol" 2>"$SCRATCH/fwd-$c.err" ||
		{ cat "$SCRATCH/fwd-$c.err" >&2; die "fwd --oneshot failed for N=$c"; }
}

# The minimal stateful ruleset (see the top) with N entries, gen's address
# among them, into namespace NS. N ending in "rpf" ("10rpf"): with fwd's
# reverse-path rule (rpfilter = strict, the default) where fwd has it,
# after the loopback accept and before the conntrack rules.
setup_min() {	# setup_min NS N[rpf]
	local ns=$1 n=$2 f=$SCRATCH/min-$2.nft ctr= rpf=
	[ "$MIN_COUNTER" = yes ] && ctr=counter
	case $n in *rpf) n=${n%rpf} rpf="fib saddr . mark . iif oif missing drop" ;; esac
	{
		echo "table inet fwdmin {"
		echo "	set allow { type ipv4_addr . inet_proto . inet_service; flags timeout; $ctr"
		echo "		elements = {"
		gen_sources "$n" 192.0.2.2 | grep -v '^#' | grep -v : |
			awk -v p=$PORT '{ printf "\t\t\t%s . udp . %s,\n", $1, p }'
		echo "		}"
		echo "	}"
		echo "	chain input {"
		echo "		type filter hook input priority filter; policy drop;"
		echo "		iif \"lo\" accept"
		[ -z "$rpf" ] || echo "		$rpf"
		echo "		ct state established,related accept"
		echo "		ct state invalid drop"
		echo "		ip saddr . meta l4proto . th dport @allow accept"
		echo "		drop"
		echo "	}"
		echo "}"
	} > "$f"
	ip netns exec "$ns" nft -f "$f" || die "nft -f of the minimal ruleset failed (N=$n)"
}

# The kernel's softirq thread of CPU (ksoftirqd/CPU): its run time (ns)
# while the paired bursts run is the receive work the kernel deferred
# rather than doing it inside the flood's system calls, which the flood's
# CPU time leaves out; the report says how much that was.
KSOFTIRQD=
for p in /proc/[0-9]*; do
	[ "$(cat "$p/comm" 2>/dev/null)" = "ksoftirqd/$CPU" ] && { KSOFTIRQD=$p; break; }
done
ksoftirqd_ns() {
	if [ -n "$KSOFTIRQD" ]; then cut -d' ' -f1 "$KSOFTIRQD/schedstat"; else echo 0; fi
}

# What fwdbench counted in config C's srv so far.
count() {
	ip netns exec "${SRV[$1]}" nft list counter inet fwdbench pkts |
		awk '/packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }'
}

# One run: flood for DURATION seconds, print "accepted_pps sent_pps".
run_once() {
	local c=$1 out before after
	before=$(count "$c")
	out=$(ip netns exec "${GEN[$c]}" taskset -c "$CPU" "$NETTOOL" flood udp 192.0.2.1 $PORT \
		--timeout "$DURATION")
	after=$(count "$c")
	# out: sent N secs T pps P errors E
	echo "$out" | awk -v d=$((after - before)) '{ printf "%.0f %.0f\n", d / $4, $6 }'
}

start_report datapath
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for c in $CONFIGS; do setup_pair "$c"; done
sleep 0.5
for c in $CONFIGS; do run_once "$c" >/dev/null; done	# warm up
for r in $(seq "$RUNS"); do
	list=$CONFIGS
	[ $((r % 2)) -eq 0 ] && list=$(echo "$CONFIGS" | tr ' ' '\n' | tac | tr '\n' ' ')
	for c in $list; do run_once "$c" >> "$SCRATCH/pps-$c"; done
done

report "# new UDP flows/s through fwd_filter (flood pinned to CPU $CPU, ${DURATION}s x $RUNS rounds)"
report "# load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
report "# pps: median over rounds; vs 10: median of the per-round ratios (each round runs"
report "# every config back to back, so slow drift in machine load cancels out)"
printf '%-12s %-14s %-14s %-8s\n' config "accepted pps" "offered pps" "vs 10" | tee -a "$REPORT"
# Numbers on stdin -> "median (q1-q3)".
quartiles() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		q = int((NR + 3) / 4)
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f (%.3f-%.3f)\n", m, v[q], v[NR + 1 - q] }'
}
# ratio A B: per round, A's packets/s over B's: "median (q1-q3)", or -.
ratio() {
	[ -f "$SCRATCH/pps-$1" ] && [ -f "$SCRATCH/pps-$2" ] || { echo -; return; }
	paste -d' ' "$SCRATCH/pps-$1" "$SCRATCH/pps-$2" | awk '{ print $1 / $3 }' | quartiles
}
# cratio A B: per paired-burst cycle, B's CPU per packet over A's: "median
# q1-q3", or - without them.
cratio() {
	[ -s "$SCRATCH/cycles" ] && [ -n "${COL[$1]:-}" ] && [ -n "${COL[$2]:-}" ] ||
		{ echo -; return; }
	awk -v a="${COL[$1]}" -v b="${COL[$2]}" -v n="$(wc -l < "$SCRATCH/cycles")" \
		'NR > n / 10 && $a > 0 { print $b / $a }' "$SCRATCH/cycles" | quartiles
}
for c in $CONFIGS; do
	pps=$(cut -d' ' -f1 "$SCRATCH/pps-$c" | median)
	sent=$(cut -d' ' -f2 "$SCRATCH/pps-$c" | median)
	printf '%-12s %-14.0f %-14.0f %-8s\n' "$c" "$pps" "$sent" \
		"$(ratio "$c" 10 | cut -d' ' -f1)" | tee -a "$REPORT"
	echo "#   raw $c (accepted offered): $(tr '\n' ';' < "$SCRATCH/pps-$c")" >> "$REPORT"
done
report ""

# The paired bursts (bench/flowpair.c): every config's flood in turn, BURST
# packets each, for PAIR_SECS seconds; CPU per packet per burst. The first
# tenth of the cycles is left out (warm-up).
declare -A COL
if [ "$PAIR_SECS" != 0 ]; then
	gens=() i=2
	for c in $CONFIGS; do gens+=("${GEN[$c]#/run/netns/}"); COL[$c]=$i; i=$((i + 1)); done
	for c in $CONFIGS; do count "$c" > "$SCRATCH/before-$c"; done
	k0=$(ksoftirqd_ns)
	taskset -c "$CPU" "$FLOWPAIR" 192.0.2.1 $PORT --burst "$BURST" --timeout "$PAIR_SECS" \
		"${gens[@]}" > "$SCRATCH/pair.out" || die "flowpair failed"
	k1=$(ksoftirqd_ns)
	grep '^cycle' "$SCRATCH/pair.out" > "$SCRATCH/cycles"
	cp "$SCRATCH/cycles" "${REPORT%.txt}.cycles"
	ncyc=$(wc -l < "$SCRATCH/cycles")
	report "# paired bursts: $ncyc cycles of $BURST packets per config (${PAIR_SECS}s, load now $(cut -d' ' -f1-3 /proc/loadavg));"
	report "# per cycle: ${REPORT%.txt}.cycles (ns/pkt per config, in CONFIGS order)"
	report "# the flood's CPU $(awk '$1 == "total" { t += $3 } END { printf "%.0f", t / 1e6 }' \
		"$SCRATCH/pair.out") ms; ksoftirqd/$CPU meanwhile $(( (k1 - k0) / 1000000 )) ms (not counted)"
	printf '%-12s %-10s %-10s %-12s %-24s\n' config sent accepted "cpu ns/pkt" "vs 10 (quartiles)" |
		tee -a "$REPORT"
	i=0
	while read -r _ sent cpu errs; do
		set -- $CONFIGS; shift $i; c=$1; i=$((i + 1))
		acc=$(( $(count "$c") - $(cat "$SCRATCH/before-$c") ))
		[ "$acc" -gt 0 ] || die "config $c: nothing accepted in the paired bursts"
		[ "$acc" -ge $((sent * 99 / 100)) ] ||
			note "config $c: only $acc of $sent accepted: ns/pkt per sent packet"
		printf '%-12s %-10s %-10s %-12.1f %-24s\n' "$c" "$sent" "$acc" \
			"$(echo "$cpu $acc" | awk '{ print $1 / $2 }')" \
			"$(cratio "$c" 10)" | tee -a "$REPORT"
	done < <(grep '^total' "$SCRATCH/pair.out")
	report ""
fi

report "# A/B: median of the ratios (quartiles): packets/s per round of the rate runs, and"
report "# flows per CPU-second per paired-burst cycle (B's CPU per packet / A's)"
# pair A B [NOTE]: one line of both ratios, if both ran
pair() {
	[ -f "$SCRATCH/pps-$1" ] && [ -f "$SCRATCH/pps-$2" ] || return 0
	report "$(printf '%-24s pps %-21s bursts %-21s %s' "$1/$2" \
		"$(ratio "$1" "$2")" "$(cratio "$1" "$2")" "${3:-}")"
}
pair 100000 10 "(target >= 0.9)"
for c in $CONFIGS; do
	m=${c#old}
	case $c in
	none|min*|*net*|*iface*) ;;
	*norpf) pair "$c" "min${m%norpf}" "(no reverse-path check, as minN)" ;;
	*) pair "$c" "min$m" "(target >= 0.95)"
	   pair "$c" "min${m}rpf" "(fwd's chain apart from the reverse-path check)" ;;
	esac
	case $c in
	min*rpf) pair "$c" "${c%rpf}" "(the reverse-path check itself)" ;;
	old*) pair "${c#old}" "$c" "(this build / FWD_OLD)" ;;
	esac
done
note "results in $REPORT"
