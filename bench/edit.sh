#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Live edits through fwctl, each against a baseline measured in the same
# run, in paired rounds (ratios per round, median over the rounds):
#
#  1. one live edit with N (default 100k) allowlist entries loaded:
#     `fwctl allow 22/tcp from X` (the whole process; fwd answers once the
#     kernel has committed it) vs `nft add element inet fwd_filter allow4
#     { X . tcp . 22 }` into the same ruleset loaded with `nft -f` (target
#     <= 1.0x); and the same fwctl edit at N vs at 0 entries (target <= 1.5x);
#  2. `fwctl reload` after changing one entry of the N-entry list file vs the
#     cold apply `fwd --oneshot` of the same policy into an empty namespace
#     (target <= 0.05x);
#  3. BATCH (default 1000) additions in one `fwctl list add NAME -` call vs
#     BATCH separate `fwctl list add NAME ADDR` calls from a shell loop
#     (target: the batch's rate at least 20x).
#  4. BIG_BATCH (default 100k) IPv6 addresses in one `fwctl list add NAME -`
#     vs the same number of IPv4 addresses, each into a fresh fwd with a
#     one-member list (target <= 2x: the IPv6 batch used to take minutes,
#     quadratic in the batch, while IPv4 looked fine at 10k);
#     1b. the same `fwctl allow 22/tcp from X` issued again at N (already in
#     force: no compile, no transaction, no file write) vs the round's
#     `nft add element` (target <= 1.0x);
# For context (no target), 1. also times `fwctl allow ... --runtime` at N:
# the same edit without writing and fsyncing conf.d/99-fwctl.conf.
#
#   sudo bench/edit.sh                          # N=100000 RUNS=15 BATCH=1000 BATCH_RUNS=3
#   sudo N=10000 RUNS=5 BATCH_RUNS=1 bench/edit.sh
#   sudo BIG_BATCH=100000 BIG_RUNS=3 bench/edit.sh   # (the defaults of 4.)
#
# Namespaces (no links, no traffic: only the control path and the kernel's
# transaction are timed): `big` runs fwd with the N-entry policy, `zero` fwd
# with no allowlist entry, `batch` fwd with a one-member list, `nft` the N
# ruleset loaded by nft (no fwd: fwd's table has the owner flag, so nobody
# else may add to it), and a fresh one per cold apply. Every command is
# timed inside its namespace (bash $EPOCHREALTIME around it: fork and exec
# included, `ip netns exec` not).

. "$(dirname "$0")/lib.sh"

FWCTL=${FWCTL_BIN:-$BUILD/ctl/fwctl}
N=${N:-100000}
RUNS=${RUNS:-15}
BATCH=${BATCH:-1000}
BATCH_RUNS=${BATCH_RUNS:-3}
BIG_BATCH=${BIG_BATCH:-100000}
BIG_RUNS=${BIG_RUNS:-3}
SETTLE=${SETTLE:-0.5}

need_tools awk sed
[ -x "$FWCTL" ] || die "no fwctl at $FWCTL (build first, or set FWCTL_BIN)"
[ "$RUNS" -le 120 ] || die "RUNS at most 120 (two 203.0.113.x per round)"
[ "$BATCH" -le 16384 ] || die "BATCH at most 16384"
[ "$BIG_BATCH" -le 131072 ] || die "BIG_BATCH at most 131072 (198.18.0.0/15)"

# ---- helpers ---------------------------------------------------------------

# t_in NS STDIN CMD...: run CMD inside NS with STDIN (a file or /dev/null),
# print the wall seconds; a failure stops the benchmark with CMD's words.
t_in() {
	local ns=$1 in=$2 out
	shift 2
	out=$(ip netns exec "$ns" bash -c '
		in=$1; shift
		t0=$EPOCHREALTIME
		"$@" <"$in" >/dev/null 2>"$0" || exit 1
		t1=$EPOCHREALTIME
		echo "$t0 $t1"' "$SCRATCH/t.err" "$in" "$@") ||
		{ cat "$SCRATCH/t.err" >&2; die "failed in $ns: $*"; }
	set -- $out
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", b - a }'
}

# start_fwd NS NAME POLICY: fwd in NS with its socket at $SCRATCH/NAME.sock
start_fwd() {
	local ns=$1 name=$2 pol=$3 i
	ip netns exec "$ns" "$FWD" -c "$pol" --state-dir "$SCRATCH/state-$name" \
		-S "$SCRATCH/$name.sock" >"$SCRATCH/fwd-$name.log" 2>&1 &
	disown $!	# ns_del ends it; no "Killed" notice from bash then
	for i in $(seq 300); do
		grep -q 'control socket at' "$SCRATCH/fwd-$name.log" && return 0
		kill -0 $! 2>/dev/null || break
		sleep 0.1
	done
	cat "$SCRATCH/fwd-$name.log" >&2
	die "fwd ($name) did not come up"
}

# has_elem NS SET ELEMENT: the kernel has it (read back, never timed)
has_elem() {
	ip netns exec "$1" nft get element inet fwd_filter "$2" "{ $3 }" >/dev/null 2>&1
}

# set_size NS SET: elements the kernel lists in the set
set_size() {
	ip netns exec "$1" nft list set inet fwd_filter "$2" |
		awk '/elements = \{/ { on = 1 } on { n += gsub(/,/, ",") } /\}/ && on { on = 0; n++ }
		     END { print n + 0 }'
}

ratio_median() {	# ratio_median FILE_A FILE_B: median over rounds of a/b
	paste -d' ' "$1" "$2" | awk '{ print $1 / $2 }' | median
}

# ---- set-up ----------------------------------------------------------------

start_report edit
report "# live edits via fwctl; N=$N, $RUNS rounds (edit, reload), $BATCH_RUNS rounds of $BATCH (batch)"

ns_add NS_BIG big
ns_add NS_ZERO zero
ns_add NS_BATCH batch
ns_add NS_NFT nft

mkdir -p "$SCRATCH/big" "$SCRATCH/zero" "$SCRATCH/batch"
gen_sources "$N" > "$SCRATCH/big/list.txt"
cat > "$SCRATCH/big/fwd.conf" <<-EOF
[defaults]
inbound = deny
[list bench]
file = $SCRATCH/big/list.txt
[service ssh]
ports = 22/tcp
allow = @bench
EOF
cat > "$SCRATCH/zero/fwd.conf" <<-EOF
[defaults]
inbound = deny
EOF
cat > "$SCRATCH/batch/fwd.conf" <<-EOF
[defaults]
inbound = deny
[list batch]
members = 192.0.2.2
[service ssh]
ports = 22/tcp
allow = @batch
EOF

# the baseline: the same N ruleset, loaded by nft (no owner flag)
"$FWD" -n -c "$SCRATCH/big/fwd.conf" > "$SCRATCH/ruleset.nft" || die "fwd -n failed"
note "loading the $N-entry ruleset with nft -f (baseline namespace) ..."
ip netns exec "$NS_NFT" nft -f "$SCRATCH/ruleset.nft" || die "nft -f of fwd -n's ruleset failed"
note "starting fwd x3 ..."
start_fwd "$NS_BIG" big "$SCRATCH/big/fwd.conf"
start_fwd "$NS_ZERO" zero "$SCRATCH/zero/fwd.conf"
start_fwd "$NS_BATCH" batch "$SCRATCH/batch/fwd.conf"
n_big=$(set_size "$NS_BIG" allow4)
n_nft=$(set_size "$NS_NFT" allow4)
n_zero=$(set_size "$NS_ZERO" allow4)
report "# allow4 elements: fwd big $n_big, nft baseline $n_nft, fwd zero $n_zero"
FWCTL_BIG=("$FWCTL" -S "$SCRATCH/big.sock")
FWCTL_ZERO=("$FWCTL" -S "$SCRATCH/zero.sock")
FWCTL_BATCH=("$FWCTL" -S "$SCRATCH/batch.sock")

# ---- 1. one live edit --------------------------------------------------------

note "1. one live edit, $RUNS rounds ..."
: > "$SCRATCH/e-big"; : > "$SCRATCH/e-zero"; : > "$SCRATCH/e-nft"; : > "$SCRATCH/e-rt"
: > "$SCRATCH/e-again"
for r in $(seq "$RUNS"); do
	x=203.0.113.$r y=203.0.113.$((r + 120))
	# "again" repeats big's edit, so it always comes after it
	if [ $((r % 2)) -eq 1 ]; then order="big again zero nft rt"; else order="rt nft zero big again"; fi
	for w in $order; do
		case $w in
		big)  t_in "$NS_BIG" /dev/null "${FWCTL_BIG[@]}" allow 22/tcp from "$x" ;;
		again) t_in "$NS_BIG" /dev/null "${FWCTL_BIG[@]}" allow 22/tcp from "$x" ;;
		rt)   t_in "$NS_BIG" /dev/null "${FWCTL_BIG[@]}" allow 22/tcp from "$y" --runtime ;;
		zero) t_in "$NS_ZERO" /dev/null "${FWCTL_ZERO[@]}" allow 22/tcp from "$x" ;;
		nft)  t_in "$NS_NFT" /dev/null nft add element inet fwd_filter allow4 "{ $x . tcp . 22 }" ;;
		esac >> "$SCRATCH/e-$w"
	done
	has_elem "$NS_BIG" allow4 "$x . tcp . 22" || die "fwd (big) does not have $x after fwctl allow"
	ip netns exec "$NS_BIG" "${FWCTL_BIG[@]}" allow 22/tcp from "$x" | grep -q 'already in force' ||
		die "fwd (big) did not find 'allow 22/tcp from $x' already in force"
	has_elem "$NS_BIG" allow4 "$y . tcp . 22" || die "fwd (big) does not have $y after fwctl allow --runtime"
	has_elem "$NS_ZERO" allow4 "$x . tcp . 22" || die "fwd (zero) does not have $x after fwctl allow"
	has_elem "$NS_NFT" allow4 "$x . tcp . 22" || die "nft baseline does not have $x"
done
r1=$(ratio_median "$SCRATCH/e-big" "$SCRATCH/e-nft")
r2=$(ratio_median "$SCRATCH/e-big" "$SCRATCH/e-zero")
report ""
report "1. one live edit (seconds, median of $RUNS)"
report "$(printf '%-44s %10s' "fwctl allow 22/tcp from X, $N entries" "$(median < "$SCRATCH/e-big")")"
report "$(printf '%-44s %10s' "fwctl allow 22/tcp from X, 0 entries" "$(median < "$SCRATCH/e-zero")")"
report "$(printf '%-44s %10s' "nft add element (same element), $N entries" "$(median < "$SCRATCH/e-nft")")"
report "$(printf '%-44s %10s' "fwctl allow ... --runtime, $N entries" "$(median < "$SCRATCH/e-rt")")"
report "fwctl/nft at $N: $(printf '%.3f' "$r1")  (target <= 1.0)"
report "fwctl at $N / at 0: $(printf '%.3f' "$r2")  (target <= 1.5)"
report "$(printf '%-44s %10s' "the same fwctl allow again, $N entries" "$(median < "$SCRATCH/e-again")")"
report "fwctl again/nft at $N: $(printf '%.3f' "$(ratio_median "$SCRATCH/e-again" "$SCRATCH/e-nft")")  (target <= 1.0: already in force)"
report "fwctl --runtime/nft at $N: $(printf '%.3f' "$(ratio_median "$SCRATCH/e-rt" "$SCRATCH/e-nft")")  (context: no persistence)"

# ---- 2. reload after one changed entry vs cold apply ---------------------------

note "2. reload vs cold apply, $RUNS rounds ..."
first=$(sed -n 2p "$SCRATCH/big/list.txt")
: > "$SCRATCH/r-reload"; : > "$SCRATCH/r-cold"
for r in $(seq "$RUNS"); do
	# one entry differs from the running list: alternately 192.0.2.77 and the original
	if [ $((r % 2)) -eq 1 ]; then new=192.0.2.77 old=$first; else new=$first old=192.0.2.77; fi
	sed "2s/.*/$new/" "$SCRATCH/big/list.txt" > "$SCRATCH/big/list.tmp"
	mv "$SCRATCH/big/list.tmp" "$SCRATCH/big/list.txt"
	if [ $((r % 2)) -eq 1 ]; then order="reload cold"; else order="cold reload"; fi
	for w in $order; do
		case $w in
		reload)
			t_in "$NS_BIG" /dev/null "${FWCTL_BIG[@]}" reload >> "$SCRATCH/r-reload"
			has_elem "$NS_BIG" allow4 "$new . tcp . 22" || die "reload: $new not in the kernel"
			! has_elem "$NS_BIG" allow4 "$old . tcp . 22" || die "reload: $old still in the kernel"
			;;
		cold)
			ns_add ns cold
			t_in "$ns" /dev/null "$FWD" --oneshot --state-dir '' -c "$SCRATCH/big/fwd.conf" \
				>> "$SCRATCH/r-cold"
			has_elem "$ns" allow4 "$new . tcp . 22" || die "cold apply: $new not in the kernel"
			ns_del "$ns"
			BENCH_NS=("${BENCH_NS[@]/$ns}")
			sleep "$SETTLE"
			;;
		esac
	done
done
r3=$(ratio_median "$SCRATCH/r-reload" "$SCRATCH/r-cold")
report ""
report "2. one changed entry in the $N list (seconds, median of $RUNS)"
report "$(printf '%-44s %10s' "fwctl reload" "$(median < "$SCRATCH/r-reload")")"
report "$(printf '%-44s %10s' "fwd --oneshot (cold apply, same policy)" "$(median < "$SCRATCH/r-cold")")"
report "reload/cold: $(printf '%.3f' "$r3")  (target <= 0.05)"

# ---- 3. batch vs separate calls ---------------------------------------------------

note "3. $BATCH additions: one batch call vs $BATCH calls, $BATCH_RUNS rounds ..."
: > "$SCRATCH/b-batch"; : > "$SCRATCH/b-sep"
base=$(set_size "$NS_BATCH" allow4)
for r in $(seq "$BATCH_RUNS"); do
	# fresh addresses each round, from 198.19.0.0/16 (beyond gen_sources' first 65536)
	awk -v n="$BATCH" -v r="$r" 'BEGIN { for (i = 0; i < n; i++)
		printf "198.19.%d.%d\n", (r % 4) * 64 + int(i / 256), i % 256 }' > "$SCRATCH/addrs"
	if [ $((r % 2)) -eq 1 ]; then order="batch sep"; else order="sep batch"; fi
	for w in $order; do
		case $w in
		batch) t_in "$NS_BATCH" "$SCRATCH/addrs" "${FWCTL_BATCH[@]}" list add batch - \
			>> "$SCRATCH/b-batch" ;;
		sep)   t_in "$NS_BATCH" "$SCRATCH/addrs" bash -c \
			'while read -r a; do "$@" list add batch "$a" || exit 1; done' x \
			"${FWCTL_BATCH[@]}" >> "$SCRATCH/b-sep" ;;
		esac
		got=$(set_size "$NS_BATCH" allow4)
		[ "$got" -eq $((base + BATCH)) ] ||
			die "$w: allow4 holds $got elements, want $((base + BATCH))"
		# back to the one-member list, untimed
		ip netns exec "$NS_BATCH" "${FWCTL_BATCH[@]}" list del batch - < "$SCRATCH/addrs" \
			>/dev/null || die "list del (reset) failed"
		got=$(set_size "$NS_BATCH" allow4)
		[ "$got" -eq "$base" ] || die "after the reset allow4 holds $got elements, want $base"
	done
done
r4=$(paste -d' ' "$SCRATCH/b-sep" "$SCRATCH/b-batch" | awk '{ print $1 / $2 }' | median)
report ""
report "3. $BATCH list additions (seconds, median of $BATCH_RUNS)"
report "$(printf '%-44s %10s' "one call: fwctl list add batch - < $BATCH" "$(median < "$SCRATCH/b-batch")")"
report "$(printf '%-44s %10s' "$BATCH calls: fwctl list add batch ADDR" "$(median < "$SCRATCH/b-sep")")"
report "batch rate / separate calls' rate: $(printf '%.1f' "$r4")  (target >= 20)"

# ---- 4. a big IPv6 batch vs the same IPv4 batch ---------------------------------

note "4. $BIG_BATCH addresses in one call: IPv6 vs IPv4, $BIG_RUNS rounds ..."
awk -v n="$BIG_BATCH" 'BEGIN { for (i = 0; i < n; i++)
	printf "198.%d.%d.%d\n", 18 + int(i / 65536), int(i / 256) % 256, i % 256 }' > "$SCRATCH/big4"
awk -v n="$BIG_BATCH" 'BEGIN { for (i = 0; i < n; i++)
	printf "2001:db8:%x:%x::1\n", 1 + int(i / 65536), i % 65536 }' > "$SCRATCH/big6"
: > "$SCRATCH/g-v6"; : > "$SCRATCH/g-v4"
for r in $(seq "$BIG_RUNS"); do
	if [ $((r % 2)) -eq 1 ]; then order="v6 v4"; else order="v4 v6"; fi
	for w in $order; do
		# a fresh fwd each time: the batch goes into a one-member list
		ns_add ns "g$w"
		start_fwd "$ns" "g$w-$r" "$SCRATCH/batch/fwd.conf"
		t_in "$ns" "$SCRATCH/big${w#v}" "$FWCTL" -S "$SCRATCH/g$w-$r.sock" list add batch - \
			>> "$SCRATCH/g-$w"
		set=allow${w#v}
		got=$(set_size "$ns" "$set")
		want=$BIG_BATCH; [ "$w" = v4 ] && want=$((BIG_BATCH + 1))
		[ "$got" -eq "$want" ] || die "$w batch: $set holds $got elements, want $want"
		ns_del "$ns"
		BENCH_NS=("${BENCH_NS[@]/$ns}")
		sleep "$SETTLE"
	done
done
r5=$(ratio_median "$SCRATCH/g-v6" "$SCRATCH/g-v4")
report ""
report "4. $BIG_BATCH list additions in one call (seconds, median of $BIG_RUNS)"
report "$(printf '%-44s %10s' "fwctl list add batch - < $BIG_BATCH IPv6" "$(median < "$SCRATCH/g-v6")")"
report "$(printf '%-44s %10s' "fwctl list add batch - < $BIG_BATCH IPv4" "$(median < "$SCRATCH/g-v4")")"
report "IPv6 batch / IPv4 batch: $(printf '%.2f' "$r5")  (target <= 2)"

{
	echo "# raw seconds, one line per round"
	for f in e-big e-again e-zero e-nft e-rt r-reload r-cold b-batch b-sep g-v6 g-v4; do
		echo "# $f: $(tr '\n' ' ' < "$SCRATCH/$f")"
	done
} >> "$REPORT"
note "results in $REPORT"
