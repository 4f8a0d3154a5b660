#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Cold apply: a policy allowing 22/tcp from N single sources (a list file),
# `fwd --oneshot -c POLICY` against the baseline `nft -f` of the same ruleset
# (what `fwd -n` prints), each into a fresh, empty network namespace.
# RUNS runs per size and tool, interleaved, median wall time; peak RSS from
# /usr/bin/time. Reports fwd/nft at the largest N (target <= 0.45) and
# t(largest)/t(smallest) for fwd (target <= 12 for 100k/10k).
#
#   sudo bench/apply.sh                  # SIZES="10000 100000" RUNS=5
#   sudo SIZES="1000 10000 100000" RUNS=9 bench/apply.sh
#
# fwd runs with --state-dir '' (no last-good copy: nft does not keep one
# either); the column "fwd+state" is the same apply also writing and
# fsyncing its last-good policy into a scratch directory, as the daemon does.

. "$(dirname "$0")/lib.sh"

SIZES=${SIZES:-"10000 100000"}
RUNS=${RUNS:-5}
SETTLE=${SETTLE:-0.5}	# seconds after each namespace removal (the kernel frees it in the background)

need_tools /usr/bin/time awk

# One timed run of "$@" inside a fresh namespace: prints "seconds peak_rss_kib".
timed_in_fresh_ns() {
	local ns rc out
	ns_add ns apply
	out=$(ip netns exec "$ns" bash -c '
		t0=$EPOCHREALTIME
		/usr/bin/time -f %M -o "$0.rss" "$@" >/dev/null 2>"$0.err"
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
	awk -v a="$2" -v b="$3" -v m="$4" 'BEGIN { printf "%.6f %d\n", b - a, m }'
}

start_report apply
report "# cold apply of 22/tcp from N single sources; $RUNS runs each, median"
printf '%-8s %-10s %-10s %-10s %-8s %-10s %-10s %-10s\n' N "fwd s" "fwd+state" "nft -f s" fwd/nft \
	"fwd RSS" "fwd+st RSS" "nft RSS" | tee -a "$REPORT"

declare -A T_FWD T_NFT RATIO
first="" last=""
for n in $SIZES; do
	pol=$SCRATCH/policy-$n.conf
	gen_sources "$n" > "$SCRATCH/list-$n.txt"
	cat > "$pol" <<-EOF
	[defaults]
	inbound = deny
	outbound = allow
	[list bench]
	file = $SCRATCH/list-$n.txt
	[service ssh]
	ports = 22/tcp
	allow = @bench
	EOF
	"$FWD" -n -c "$pol" > "$SCRATCH/ruleset-$n.nft" || die "fwd -n failed for N=$n"
	: > "$SCRATCH/fwd-$n" ; : > "$SCRATCH/fwds-$n" ; : > "$SCRATCH/nft-$n"
	for r in $(seq "$RUNS"); do
		# alternate the order so that drift hits all tools alike
		if [ $((r % 2)) -eq 1 ]; then order="fwd fwds nft"; else order="nft fwds fwd"; fi
		for tool in $order; do
			case $tool in
			fwd)  timed_in_fresh_ns "$FWD" --oneshot --state-dir '' -c "$pol" ;;
			fwds) rm -rf "$SCRATCH/state"
			      timed_in_fresh_ns "$FWD" --oneshot --state-dir "$SCRATCH/state" -c "$pol" ;;
			nft)  timed_in_fresh_ns nft -f "$SCRATCH/ruleset-$n.nft" ;;
			esac >> "$SCRATCH/$tool-$n"
		done
	done
	tf=$(cut -d' ' -f1 "$SCRATCH/fwd-$n" | median)
	ts=$(cut -d' ' -f1 "$SCRATCH/fwds-$n" | median)
	tn=$(cut -d' ' -f1 "$SCRATCH/nft-$n" | median)
	mf=$(cut -d' ' -f2 "$SCRATCH/fwd-$n" | sort -n | tail -n1)
	ms=$(cut -d' ' -f2 "$SCRATCH/fwds-$n" | sort -n | tail -n1)
	mn=$(cut -d' ' -f2 "$SCRATCH/nft-$n" | sort -n | tail -n1)
	T_FWD[$n]=$tf T_NFT[$n]=$tn
	RATIO[$n]=$(awk -v a="$tf" -v b="$tn" 'BEGIN { printf "%.3f", a / b }')
	printf '%-8s %-10.4f %-10.4f %-10.4f %-8s %-10s %-10s %-10s\n' "$n" "$tf" "$ts" "$tn" "${RATIO[$n]}" \
		"$((mf / 1024)) MiB" "$((ms / 1024)) MiB" "$((mn / 1024)) MiB" | tee -a "$REPORT"
	{
		echo "# raw N=$n (seconds peak_rss_kib), fwd / fwd+state / nft:"
		sed 's/^/#   fwd  /' "$SCRATCH/fwd-$n"
		sed 's/^/#   fwd+ /' "$SCRATCH/fwds-$n"
		sed 's/^/#   nft  /' "$SCRATCH/nft-$n"
	} >> "$REPORT"
	[ -n "$first" ] || first=$n
	last=$n
done

report ""
report "fwd/nft at N=$last: ${RATIO[$last]}  (target <= 0.45)"
if [ "$first" != "$last" ]; then
	report "fwd t($last)/t($first): $(awk -v a="${T_FWD[$last]}" -v b="${T_FWD[$first]}" \
		'BEGIN { printf "%.2f", a / b }')  (target <= 12 for 100000/10000)" \
		"  nft: $(awk -v a="${T_NFT[$last]}" -v b="${T_NFT[$first]}" 'BEGIN { printf "%.2f", a / b }')"
fi
note "results in $REPORT"
