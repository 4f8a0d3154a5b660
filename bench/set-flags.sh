#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Issue 8 §6: would fwd's host sets cost the kernel less without `flags
# timeout`? A set with the timeout flag can only be an rhash (it starts
# small and grows while the elements go in); one without it but with a
# size (NFTA_SET_DESC_SIZE) gets nft_hash, whose buckets are sized once
# from the size. N single sources (allow4's key, a per-element counter)
# loaded into a fresh namespace, in three declarations:
#
#   tmo    flags timeout                (fwd's allow4 today)
#   size   no flags, size = the next power of two >= 2N (nft_hash)
#   plain  no flags, no size            (rhash without timeouts)
#
# each by two tools: plain `nft -f` (the brief's measure: the whole
# transaction goes to the kernel in one sendmsg, and the time spent in
# that sendmsg, taken with strace -T and a seccomp filter so that no other
# system call stops, is the kernel's work on it) and nft-min-load (the
# minimal loader of bench/apply.sh: almost nothing but the kernel's work).
# Every run reports wall and CPU (user, system) of the process; RUNS
# rounds, the order alternating, each variant as the median of its
# per-round ratio to `tmo` of the same tool.
#
#   sudo bench/set-flags.sh                  # N=100000 RUNS=9
#   sudo TOOLS=min RUNS=15 bench/set-flags.sh
#
# The rhash grows in a kernel worker (rht_deferred_worker), whose CPU is
# no process's: the system time of `tmo` and `plain` leaves that out.

. "$(dirname "$0")/lib.sh"

N=${N:-100000}
RUNS=${RUNS:-9}
SETTLE=${SETTLE:-0.7}
TOOLS=${TOOLS:-"nft min"}
WARM_MIB=${WARM_MIB:-65536}
WARM_MARGIN_MIB=${WARM_MARGIN_MIB:-3072}
MINLOAD=${FWD_NFT_MIN_LOAD:-$BUILD/tests/nft-min-load}
WARMMEM=${FWD_WARM_MEM:-$BUILD/tests/warm-mem}
VARIANTS="tmo size plain"

[ "$(id -u)" -eq 0 ] || die "needs root (it creates network namespaces)"
for t in ip nft awk /usr/bin/time; do command -v "$t" >/dev/null || die "missing $t"; done
[ -x "$MINLOAD" ] && [ -x "$WARMMEM" ] || die "no $MINLOAD or $WARMMEM (build first)"
STRACE=$(command -v strace || true)
[ -n "$STRACE" ] || note "no strace: the nft rows have no in-kernel time"

SIZE=1
while [ "$SIZE" -lt $((2 * N)) ]; do SIZE=$((SIZE * 2)); done

decl() {
	case $1 in
	tmo)   echo "flags timeout; counter;" ;;
	size)  echo "size $SIZE; counter;" ;;
	plain) echo "counter;" ;;
	esac
}

min_opts() {
	case $1 in
	tmo)   echo "-c" ;;
	size)  echo "-c -T -s $SIZE" ;;
	plain) echo "-c -T" ;;
	esac
}

gen_sources "$N" | grep -v '^#' > "$SCRATCH/list.txt"
for v in $VARIANTS; do
	{
		echo "table inet fwd_filter {"
		echo " set allow4 { type ipv4_addr . inet_proto . inet_service; $(decl "$v")"
		echo "  elements = {"
		grep -v : "$SCRATCH/list.txt" | sed 's/$/ . tcp . 22,/'
		echo "  }"
		echo " }"
		echo "}"
	} > "$SCRATCH/$v.nft"
done
[ "$N" -le 131072 ] || note "only the IPv4 sources go into the nft files (N > 131072)"

# One run in a fresh namespace: "wall sys user [in-sendmsg]".
run_one() {	# run_one TOOL VARIANT
	local ns t k=""
	ns_add ns flags
	if [ "$1" = nft ]; then
		if [ -n "$STRACE" ]; then
			t=$(ip netns exec "$ns" /usr/bin/time -f '%e %S %U' "$STRACE" -f --seccomp-bpf \
				-T -e trace=sendmsg -o "$SCRATCH/strace" nft -f "$SCRATCH/$2.nft" 2>&1 >/dev/null | tail -1)
			k=$(grep -o '<[0-9.]*>$' "$SCRATCH/strace" | tr -d '<>' | awk '{ s += $1 } END { print s }')
		else
			t=$(ip netns exec "$ns" /usr/bin/time -f '%e %S %U' nft -f "$SCRATCH/$2.nft" 2>&1 >/dev/null | tail -1)
		fi
	else
		# shellcheck disable=SC2046
		t=$(ip netns exec "$ns" /usr/bin/time -f '%e %S %U' "$MINLOAD" $(min_opts "$2") \
			"$SCRATCH/list.txt" 2>&1 >/dev/null | tail -1)
	fi
	ns_del "$ns"
	BENCH_NS=("${BENCH_NS[@]/$ns}")
	sleep "$SETTLE"
	echo "$t $k"
}

[ "$WARM_MIB" -eq 0 ] || note "warming memory: $("$WARMMEM" "$WARM_MIB" "$WARM_MARGIN_MIB")"
start_report set-flags
report "# $N single sources, allow4's key and counter; size = $SIZE; $RUNS rounds; ratio = variant/tmo per round, median"
report "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); nf_tables event listeners: $(nft_event_listeners)"
for tool in $TOOLS; do for v in $VARIANTS; do : > "$SCRATCH/r-$tool-$v"; done; done
for r in $(seq "$RUNS"); do
	order=$VARIANTS
	[ $((r % 2)) -eq 1 ] || order=$(echo "$VARIANTS" | tr ' ' '\n' | tac | tr '\n' ' ')
	for tool in $TOOLS; do
		for v in $order; do
			line=$(run_one "$tool" "$v")
			echo "$line" >> "$SCRATCH/r-$tool-$v"
			echo "# raw round $r $tool $v: $line" >> "$REPORT"
		done
	done
done
report "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

col() { awk -v c="$1" '{ print $c }' "$2"; }
ratio() {	# ratio COL FILE BASE -> median of per-round ratios
	paste -d' ' <(col "$1" "$2") <(col "$1" "$3") |
		awk '$2 > 0 { print $1 / $2 }' | median
}
printf '%-6s %-6s %-8s %-8s %-8s %-10s %-9s %-9s %-9s\n' tool variant wall sys user in-kernel \
	wall/tmo sys/tmo kern/tmo | tee -a "$REPORT"
for tool in $TOOLS; do
	for v in $VARIANTS; do
		f=$SCRATCH/r-$tool-$v b=$SCRATCH/r-$tool-tmo k=- kr=-
		if [ "$tool" = nft ] && [ -n "$STRACE" ]; then
			k=$(col 4 "$f" | median)
			printf -v kr '%.3f' "$(ratio 4 "$f" "$b")"
		fi
		printf '%-6s %-6s %-8s %-8s %-8s %-10s %-9.3f %-9.3f %-9s\n' "$tool" "$v" \
			"$(col 1 "$f" | median)" "$(col 2 "$f" | median)" "$(col 3 "$f" | median)" "$k" \
			"$(ratio 1 "$f" "$b")" "$(ratio 2 "$f" "$b")" "$kr" | tee -a "$REPORT"
	done
done
note "results in $REPORT"
