#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What the kernel's share of a cold apply costs, and what would cut it:
# nft-min-load (the minimal one-transaction loader of bench/apply.sh) of N
# single sources in several set layouts, each into a fresh namespace, in
# RUNS rounds (order alternating), every variant as a ratio against the
# plain layout (fwd's today) within the same round, median over rounds.
#
#   sudo bench/set-layout.sh                 # N=100000 RUNS=7
#   sudo N=10000 bench/set-layout.sh
#
# Variants (the loader's options; "ctr" = per-element counters, as fwd's
# default counters = yes):
#   plain     hash set, counters                        (fwd's layout today)
#   nocount   hash set, no counters                     (counters = no)
#   hint1     hash set, counters, size hint = N         (NFTNL_SET_DESC_SIZE)
#   hint2     hash set, counters, size hint = 2N
#   hint8     hash set, counters, size hint = 8N
#   notmo     hash set, counters, without flags timeout (fwd needs it for
#             timed edits: what does it cost?)
#   ranges    adjacent addresses merged into ranges of an interval set
#             (bench addresses are consecutive: one range; the best case)
#   spread    N addresses none adjacent (every other one) as N one-address
#             ranges of that interval set: what a range element costs
#             against a hash element, i.e. how long a run must be to pay
#   nchint    hash set, no counters, size hint = 2N (the hint where the
#             counters' cost does not hide it)
#   listen    plain, while `nft monitor` listens in another namespace: the
#             kernel then builds an event per element of every commit

. "$(dirname "$0")/lib.sh"

N=${N:-100000}
RUNS=${RUNS:-7}
SETTLE=${SETTLE:-0.5}
WARM_MIB=${WARM_MIB:-65536}
WARM_MARGIN_MIB=${WARM_MARGIN_MIB:-3072}
MINLOAD=${FWD_NFT_MIN_LOAD:-$BUILD/tests/nft-min-load}
WARMMEM=${FWD_WARM_MEM:-$BUILD/tests/warm-mem}
VARIANTS=${VARIANTS:-"plain nocount notmo hint1 hint2 hint8 ranges"}

need_tools awk
[ -x "$MINLOAD" ] && [ -x "$WARMMEM" ] || die "no $MINLOAD or $WARMMEM (build first)"
[ "$WARM_MIB" -eq 0 ] || note "warming memory: $("$WARMMEM" "$WARM_MIB" "$WARM_MARGIN_MIB")"

opts() {
	case $1 in
	plain)   echo "-c" ;;
	nocount) echo "" ;;
	hint1)   echo "-c -s $N" ;;
	hint2)   echo "-c -s $((2 * N))" ;;
	hint8)   echo "-c -s $((8 * N))" ;;
	notmo)   echo "-c -T" ;;
	ranges)  echo "-c -r" ;;
	spread)  echo "-c -r" ;;
	nchint)  echo "-s $((2 * N))" ;;
	listen)  echo "-c" ;;
	*) die "unknown variant $1" ;;
	esac
}

# One timed load in a fresh namespace: prints seconds (the loader's own
# process, fork and exec included, as apply.sh times it).
timed_load() {
	local ns out mns="" mpid=""
	ns_add ns layout
	if [ "$1" = listen ]; then
		# a listener somewhere else on the machine, as a desktop's
		# `nft monitor` or another fwd's table guard would be
		ns_add mns mon
		ip netns exec "$mns" nft monitor > /dev/null 2>&1 &
		mpid=$!
		sleep 0.3
	fi
	# shellcheck disable=SC2086
	out=$(ip netns exec "$ns" bash -c 't0=$EPOCHREALTIME; "$@" || exit 1; t1=$EPOCHREALTIME
		echo "$t0 $t1"' _ "$MINLOAD" $(opts "$1") "$SCRATCH/list-$(list_of "$1").txt") ||
		die "nft-min-load failed: $1"
	if [ -n "$mpid" ]; then
		kill "$mpid" 2>/dev/null || true
		wait "$mpid" 2>/dev/null || true	# its status is the signal's
		ns_del "$mns"
		BENCH_NS=("${BENCH_NS[@]/$mns}")
	fi
	ns_del "$ns"
	BENCH_NS=("${BENCH_NS[@]/$ns}")
	sleep "$SETTLE"
	set -- $out
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", b - a }'
}

list_of() { [ "$1" = spread ] && echo spread || echo plain; }

gen_sources "$N" > "$SCRATCH/list-plain.txt"
[ "$N" -le 65536 ] || [ "${VARIANTS/spread}" = "$VARIANTS" ] || die "spread: N at most 65536 (every other address of 198.18.0.0/15)"
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) { a = 2 * i
	printf "198.%d.%d.%d\n", 18 + int(a / 65536), int(a / 256) % 256, a % 256 } }' > "$SCRATCH/list-spread.txt"
for v in $VARIANTS; do : > "$SCRATCH/t-$v"; done
for r in $(seq "$RUNS"); do
	order=$VARIANTS
	[ $((r % 2)) -eq 1 ] || order=$(echo $VARIANTS | tr ' ' '\n' | tac | tr '\n' ' ')
	for v in $order; do timed_load "$v" >> "$SCRATCH/t-$v"; done
done

start_report set-layout
report "# nft-min-load of $N single sources per set layout; $RUNS rounds, median; ratio = variant/plain per round"
report "# load average: $(cut -d' ' -f1-3 /proc/loadavg); nf_tables event listeners besides ours: $(nft_event_listeners)"
printf '%-8s %-10s %-8s\n' variant "s" "/plain" | tee -a "$REPORT"
for v in $VARIANTS; do
	t=$(median < "$SCRATCH/t-$v")
	q=$(paste -d' ' "$SCRATCH/t-$v" "$SCRATCH/t-plain" | awk '{ print $1 / $2 }' | median)
	printf '%-8s %-10.4f %-8.3f\n' "$v" "$t" "$q" | tee -a "$REPORT"
	echo "# raw $v: $(tr '\n' ' ' < "$SCRATCH/t-$v")" >> "$REPORT"
done
note "results in $REPORT"
