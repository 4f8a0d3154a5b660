#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The window a counter-keeping replace loses (SIGHUP, a reload that changes
# the table's shape): fwd reads the running table's counters, builds the
# transaction with them, and sends it; what the old table counts between
# the read and the commit is not in the new one. bench/carry-gap.c replaces
# the same table of N single sources (22/tcp from a list file, counters on)
# in a fresh namespace, ROUNDS pairs in alternating order: once with fresh
# counters (no read: the baseline) and once carrying them, and prints the
# read, the build and the send up to the commit's answer (kmod.h,
# fwd_nl_stats). Reported: medians of each, the elements' window (build +
# commit for the last element read, read + build + commit for the first),
# the rules' (read last: their read + build + commit), and keep/fresh per
# round (what carrying costs a replace), with the load average.
#
#   sudo bench/carry-gap.sh                 # SIZES="10000 100000" ROUNDS=7

. "$(dirname "$0")/lib.sh"

SIZES=${SIZES:-"10000 100000"}
ROUNDS=${ROUNDS:-7}
GAP=${FWD_CARRY_GAP:-$BUILD/tests/carry-gap}

need_tools awk
[ -x "$GAP" ] || die "no $GAP (build first)"
start_report carry-gap
report "# load average at the start: $(cut -d' ' -f1-3 /proc/loadavg); nf_tables event listeners: $(nft_event_listeners)"
printf '%-8s %-9s %-9s %-9s %-9s %-9s %-9s %-14s %-10s %-9s\n' N "read ms" "rules ms" \
	"build ms" "commit ms" "fresh s" "keep s" "elem win ms" "rule win ms" keep/fresh |
	tee -a "$REPORT"
for n in $SIZES; do
	pol=$SCRATCH/policy-$n.conf
	gen_sources "$n" > "$SCRATCH/list-$n.txt"
	cat > "$pol" <<-EOT
	[defaults]
	inbound = deny
	outbound = allow
	[list bench]
	file = $SCRATCH/list-$n.txt
	[service ssh]
	ports = 22/tcp
	allow = @bench
	EOT
	ns_add ns "gap$n"
	ip netns exec "$ns" "$GAP" "$pol" "$ROUNDS" > "$SCRATCH/gap-$n" ||
		die "carry-gap failed for N=$n"
	ns_del "$ns"
	sleep 1		# the kernel frees the table in the background
	col() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' \
		"$SCRATCH/gap-$n" | median; }
	rd=$(col read_us) ru=$(col rules_us) bd=$(col build_us) cm=$(col commit_us)
	ratio=$(awk '{ print $4 / $2 }' "$SCRATCH/gap-$n" | median)
	awk -v n="$n" -v rd="$rd" -v ru="$ru" -v bd="$bd" -v cm="$cm" -v fr="$(col fresh_s)" \
	    -v kp="$(col keep_s)" -v ra="$ratio" 'BEGIN {
		printf "%-8s %-9.1f %-9.1f %-9.1f %-9.1f %-9.3f %-9.3f %-14s %-10.0f %-9.3f\n", n,
		       rd / 1000, ru / 1000, bd / 1000, cm / 1000, fr, kp,
		       sprintf("%.0f-%.0f", (bd + cm) / 1000, (rd + bd + cm) / 1000),
		       (ru + bd + cm) / 1000, ra
	}' | tee -a "$REPORT"
done
report "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
note "report: $REPORT"
