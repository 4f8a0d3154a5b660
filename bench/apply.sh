#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Cold apply: a policy allowing 22/tcp from N single sources (a list file),
# `fwd --oneshot -c POLICY` against two baselines, each into a fresh, empty
# network namespace: `nft -f` of the same ruleset (what `fwd -n` prints),
# and nft-min-load (bench/nft-min-load.c), a minimal one-transaction
# libnftnl loader of the same sets and elements and nothing else, which is
# about the kernel's own insert work. Memory is warmed first (WARM_MIB).
# RUNS rounds, each timing every size and tool once (order alternating);
# median wall time, ratios as the median of the per-round ratios; peak RSS
# (the maximum over the rounds) from /usr/bin/time. Reports fwd/nft at the largest N (target <= 0.45),
# fwd/min (how much more than the kernel's floor fwd costs) and
# t(largest)/t(smallest) for fwd (target <= 12 for 100k/10k).
#
#   sudo bench/apply.sh                  # SIZES="10000 100000" RUNS=5
#   sudo SIZES="1000 10000 100000" RUNS=9 bench/apply.sh
#   sudo COUNTERS=no bench/apply.sh      # [defaults] counters = no (both sides)
#   sudo FWD_BASE=/tmp/fwd-old bench/apply.sh  # also another fwd binary, paired:
#                                        # fwd/base per round (a change's own ratio)
#
# fwd runs with --state-dir '' (no last-good copy: nft does not keep one
# either); the column "fwd+state" is the same apply also writing and
# fsyncing its last-good policy into a scratch directory, as the daemon does.

. "$(dirname "$0")/lib.sh"

SIZES=${SIZES:-"10000 100000"}
RUNS=${RUNS:-5}
SETTLE=${SETTLE:-0.5}	# seconds after each namespace removal (the kernel frees it in the background)
COUNTERS=${COUNTERS:-yes}	# [defaults] counters: per-element counters (nft -f gets fwd -n's ruleset, so the same)
WARM_MIB=${WARM_MIB:-65536}	# touch up to this much memory once before timing (0: do not)
WARM_MARGIN_MIB=${WARM_MARGIN_MIB:-3072}	# ... but always leave this much available
MINLOAD=${FWD_NFT_MIN_LOAD:-$BUILD/tests/nft-min-load}
WARMMEM=${FWD_WARM_MEM:-$BUILD/tests/warm-mem}
FWD_BASE=${FWD_BASE:-}	# another fwd binary (e.g. before a change), timed in the same rounds

need_tools /usr/bin/time awk
[ -x "$MINLOAD" ] && [ -x "$WARMMEM" ] || die "no $MINLOAD or $WARMMEM (build first)"
[ -z "$FWD_BASE" ] || [ -x "$FWD_BASE" ] || die "FWD_BASE=$FWD_BASE is not executable"
MINOPT=""
[ "$COUNTERS" = no ] || MINOPT=-c

# A fresh VM pays for the first touch of every guest page (DESIGN.md); the
# first timed run must not be the one that pays. warm-mem stops while
# WARM_MARGIN_MIB are still available, whatever else the machine runs.
if [ "$WARM_MIB" -gt 0 ]; then
	note "warming memory: $("$WARMMEM" "$WARM_MIB" "$WARM_MARGIN_MIB")"
fi

# One timed run of "$@" inside a fresh namespace: prints "seconds
# peak_rss_kib minor_faults cpu_seconds" (cpu: user + system).
timed_in_fresh_ns() {
	local ns rc out
	ns_add ns apply
	out=$(ip netns exec "$ns" bash -c '
		t0=$EPOCHREALTIME
		/usr/bin/time -f "%M %R %U %S" -o "$0.rss" "$@" >/dev/null 2>"$0.err"
		rc=$?
		t1=$EPOCHREALTIME
		echo "$rc $t0 $t1 $(tail -n1 "$0.rss")"' "$SCRATCH/run" "$@") || true
	set -- $out
	rc=${1:-99}
	if [ "$rc" != 0 ]; then
		cat "$SCRATCH/run.err" >&2
		die "run failed (exit $rc): $*"
	fi
	# the table must really be there
	ip netns exec "$ns" nft list tables | grep -q 'inet fwd_filter' ||
		die "no table after: $*"
	ns_del "$ns"
	BENCH_NS=("${BENCH_NS[@]/$ns}")
	sleep "$SETTLE"
	awk -v a="$2" -v b="$3" -v m="$4" -v f="$5" -v u="$6" -v s="$7" \
		'BEGIN { printf "%.6f %d %d %.2f\n", b - a, m, f, u + s }'
}

start_report apply
report "# cold apply of 22/tcp from N single sources; counters = $COUNTERS; $RUNS rounds, median"
report "# load average at the start: $(cut -d' ' -f1-3 /proc/loadavg); nf_tables event listeners: $(nft_event_listeners)"
printf '%-8s %-10s %-10s %-10s %-10s %-8s %-8s %-10s %-10s %-10s\n' N "fwd s" "fwd+state" "nft -f s" \
	"min s" fwd/nft fwd/min "fwd RSS" "fwd+st RSS" "nft RSS" | tee -a "$REPORT"

first="" last=""
for n in $SIZES; do
	pol=$SCRATCH/policy-$n.conf
	gen_sources "$n" > "$SCRATCH/list-$n.txt"
	cat > "$pol" <<-EOF
	[defaults]
	inbound = deny
	outbound = allow
	counters = $COUNTERS
	[list bench]
	file = $SCRATCH/list-$n.txt
	[service ssh]
	ports = 22/tcp
	allow = @bench
	EOF
	"$FWD" -n -c "$pol" > "$SCRATCH/ruleset-$n.nft" || die "fwd -n failed for N=$n"
	: > "$SCRATCH/fwd-$n" ; : > "$SCRATCH/fwds-$n" ; : > "$SCRATCH/nft-$n" ; : > "$SCRATCH/min-$n"
	: > "$SCRATCH/base-$n"
	[ -n "$first" ] || first=$n
	last=$n
done

# Rounds: every size and tool once per round, the order alternating, so
# that the machine's drifting load hits all alike; ratios are taken within
# a round and their median reported.
for r in $(seq "$RUNS"); do
	if [ $((r % 2)) -eq 1 ]; then order="fwd fwds nft min"; else order="min nft fwds fwd"; fi
	# the other binary right beside fwd, on the other side each round
	if [ -n "$FWD_BASE" ]; then
		if [ $((r % 2)) -eq 1 ]; then order="base $order"; else order="$order base"; fi
	fi
	for n in $SIZES; do
		pol=$SCRATCH/policy-$n.conf
		for tool in $order; do
			case $tool in
			fwd)  timed_in_fresh_ns "$FWD" --oneshot --state-dir '' -c "$pol" ;;
			fwds) rm -rf "$SCRATCH/state"
			      timed_in_fresh_ns "$FWD" --oneshot --state-dir "$SCRATCH/state" -c "$pol" ;;
			nft)  timed_in_fresh_ns nft -f "$SCRATCH/ruleset-$n.nft" ;;
			min)  timed_in_fresh_ns "$MINLOAD" $MINOPT "$SCRATCH/list-$n.txt" ;;
			base) timed_in_fresh_ns "$FWD_BASE" --oneshot --state-dir '' -c "$pol" ;;
			esac >> "$SCRATCH/$tool-$n"
		done
	done
done

col() { cut -d' ' -f"$2" "$1"; }
ratio_median() {	# ratio_median FILE_A FILE_B [COL]: median over rounds of a/b (column COL, default 1)
	paste -d' ' "$1" "$2" | awk -v c="${3:-1}" '{ h = NF / 2; if ($(h + c) > 0) print $c / $(h + c) }' | median
}
declare -A RATIO MRATIO
for n in $SIZES; do
	tf=$(col "$SCRATCH/fwd-$n" 1 | median)
	ts=$(col "$SCRATCH/fwds-$n" 1 | median)
	tn=$(col "$SCRATCH/nft-$n" 1 | median)
	tm=$(col "$SCRATCH/min-$n" 1 | median)
	mf=$(col "$SCRATCH/fwd-$n" 2 | sort -n | tail -n1)
	ms=$(col "$SCRATCH/fwds-$n" 2 | sort -n | tail -n1)
	mn=$(col "$SCRATCH/nft-$n" 2 | sort -n | tail -n1)
	RATIO[$n]=$(printf '%.3f' "$(ratio_median "$SCRATCH/fwd-$n" "$SCRATCH/nft-$n")")
	MRATIO[$n]=$(printf '%.3f' "$(ratio_median "$SCRATCH/fwd-$n" "$SCRATCH/min-$n")")
	printf '%-8s %-10.4f %-10.4f %-10.4f %-10.4f %-8s %-8s %-10s %-10s %-10s\n' "$n" "$tf" "$ts" "$tn" "$tm" \
		"${RATIO[$n]}" "${MRATIO[$n]}" \
		"$((mf / 1024)) MiB" "$((ms / 1024)) MiB" "$((mn / 1024)) MiB" | tee -a "$REPORT"
	{
		echo "# raw N=$n (seconds peak_rss_kib minor_faults cpu_s), one line per round, fwd / fwd+state / nft / min:"
		sed 's/^/#   fwd  /' "$SCRATCH/fwd-$n"
		sed 's/^/#   fwd+ /' "$SCRATCH/fwds-$n"
		sed 's/^/#   nft  /' "$SCRATCH/nft-$n"
		sed 's/^/#   min  /' "$SCRATCH/min-$n"
		[ -z "$FWD_BASE" ] || sed 's/^/#   base /' "$SCRATCH/base-$n"
	} >> "$REPORT"
	if [ -n "$FWD_BASE" ]; then
		report "  N=$n: base ($FWD_BASE) $(printf '%.4f' "$(col "$SCRATCH/base-$n" 1 | median)") s," \
			"fwd/base $(printf '%.3f' "$(ratio_median "$SCRATCH/fwd-$n" "$SCRATCH/base-$n")")" \
			"(median of per-round ratios), base/min $(printf '%.3f' "$(ratio_median "$SCRATCH/base-$n" "$SCRATCH/min-$n")")," \
			"RSS fwd $((mf / 1024)) MiB base $(( $(col "$SCRATCH/base-$n" 2 | sort -n | tail -n1) / 1024 )) MiB"
		report "  N=$n: minor page faults (median) fwd $(col "$SCRATCH/fwd-$n" 3 | median)" \
			"base $(col "$SCRATCH/base-$n" 3 | median) min $(col "$SCRATCH/min-$n" 3 | median);" \
			"CPU (user+sys) fwd/base $(printf '%.3f' "$(ratio_median "$SCRATCH/fwd-$n" "$SCRATCH/base-$n" 4)")" \
			"(median of per-round ratios; /usr/bin/time's 10 ms resolution)"
	fi
done

report ""
report "fwd/nft at N=$last: ${RATIO[$last]}  (median of $RUNS per-round ratios; target <= 0.45)"
report "fwd/min at N=$last: ${MRATIO[$last]}  (fwd against the minimal libnftnl loader: 1.0 is the kernel's floor)"
report "nft/min at N=$last: $(printf '%.3f' "$(ratio_median "$SCRATCH/nft-$last" "$SCRATCH/min-$last")")"
if [ "$first" != "$last" ]; then
	report "fwd t($last)/t($first): $(printf '%.2f' "$(ratio_median "$SCRATCH/fwd-$last" "$SCRATCH/fwd-$first")")" \
		"(target <= 12 for 100000/10000); nft: $(printf '%.2f' "$(ratio_median "$SCRATCH/nft-$last" "$SCRATCH/nft-$first")")"
fi
report "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); nf_tables event listeners: $(nft_event_listeners)"
note "results in $REPORT"
