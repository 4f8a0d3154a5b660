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
#   sudo bench/datapath.sh        # CONFIGS="none min10 10 min100000 100000" RUNS=10 DURATION=1
#   sudo RUNS=9 DURATION=3 bench/datapath.sh
#   sudo CONFIGS="10 100000 10net 30000net" bench/datapath.sh
#   sudo CONFIGS="min10 10 10norpf" bench/datapath.sh
#   sudo CONFIGS="min10 min10rpf 10 min100000 min100000rpf 100000" bench/datapath.sh
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

need_tools taskset awk
[ -x "$NETTOOL" ] || die "no nettool at $NETTOOL (build first, or set FWD_NETTOOL)"

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

# One run: flood for DURATION seconds, print "accepted_pps sent_pps".
run_once() {
	local c=$1 out before after
	before=$(ip netns exec "${SRV[$c]}" nft list counter inet fwdbench pkts |
		awk '/packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }')
	out=$(ip netns exec "${GEN[$c]}" taskset -c "$CPU" "$NETTOOL" flood udp 192.0.2.1 $PORT \
		--timeout "$DURATION")
	after=$(ip netns exec "${SRV[$c]}" nft list counter inet fwdbench pkts |
		awk '/packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }')
	# out: sent N secs T pps P errors E
	echo "$out" | awk -v d=$((after - before)) '{ printf "%.0f %.0f\n", d / $4, $6 }'
}

start_report datapath
for c in $CONFIGS; do setup_pair "$c"; done
sleep 0.5
for c in $CONFIGS; do run_once "$c" >/dev/null; done	# warm up
for r in $(seq "$RUNS"); do
	list=$CONFIGS
	[ $((r % 2)) -eq 0 ] && list=$(echo "$CONFIGS" | tr ' ' '\n' | tac | tr '\n' ' ')
	for c in $list; do run_once "$c" >> "$SCRATCH/pps-$c"; done
done

report "# new UDP flows/s through fwd_filter (flood pinned to CPU $CPU, ${DURATION}s x $RUNS rounds)"
report "# pps: median over rounds; vs 10: median of the per-round ratios (each round runs"
report "# every config back to back, so slow drift in machine load cancels out)"
report "# vs min: against the minimal ruleset with as many entries (minN for N and Nnorpf)"
printf '%-12s %-14s %-14s %-8s %-8s\n' allowlist "accepted pps" "offered pps" "vs 10" \
	"vs min" | tee -a "$REPORT"
declare -A PPS REL MREL
# paired A B: the median over rounds of pps(A)/pps(B), or - without B
paired() {
	[ -f "$SCRATCH/pps-$2" ] || { echo -; return; }
	printf '%.3f' "$(paste -d' ' "$SCRATCH/pps-$1" "$SCRATCH/pps-$2" |
		awk '{ print $1 / $3 }' | median)"
}
for c in $CONFIGS; do
	PPS[$c]=$(cut -d' ' -f1 "$SCRATCH/pps-$c" | median)
	REL[$c]=$(paired "$c" 10)
	MREL[$c]=-
	m=${c#old}
	case $c in none|min*|*net*|nft-*) ;; *) MREL[$c]=$(paired "$c" "min${m%norpf}") ;; esac
done
for c in $CONFIGS; do
	sent=$(cut -d' ' -f2 "$SCRATCH/pps-$c" | median)
	printf '%-12s %-14.0f %-14.0f %-8s %-8s\n' "$c" "${PPS[$c]}" "$sent" "${REL[$c]}" \
		"${MREL[$c]}" | tee -a "$REPORT"
	echo "#   raw $c (accepted offered): $(tr '\n' ';' < "$SCRATCH/pps-$c")" >> "$REPORT"
done
report ""
if [ -n "${PPS[10]:-}" ] && [ -n "${PPS[100000]:-}" ]; then
	report "pps(100000)/pps(10): ${REL[100000]}  (median of $RUNS paired rounds; target >= 0.9)"
fi
for c in $CONFIGS; do
	case ${MREL[$c]} in -) ;; *)
		m=${c#old}
		report "pps($c)/pps(min${m%norpf}): ${MREL[$c]}  (target >= 0.95)" ;;
	esac
	case $c in old*)
		report "pps(${c#old})/pps($c): $(paired "${c#old}" "$c")  (this build / FWD_OLD)" ;;
	esac
	m=${c#old}
	case $c in
	min*rpf) report "pps($c)/pps(${c%rpf}): $(paired "$c" "${c%rpf}")  (the reverse-path check itself)" ;;
	none|min*|*net*|*iface*|nft-*|*norpf) ;;
	*) if [ -f "$SCRATCH/pps-min${m}rpf" ]; then
		report "pps($c)/pps(min${m}rpf): $(paired "$c" "min${m}rpf")  (fwd's chain apart from the reverse-path check)"
	   fi ;;
	esac
done
note "results in $REPORT"
