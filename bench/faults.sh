#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The long versions of the fail-closed proofs in tests/check-faults.c, for
# manual runs: the same test code, with bigger counts.
#
#   sudo bench/faults.sh                       # 2000 + 500 kills, 3000 reloads in 300 s
#   sudo KILLS=5000 CASES=kill9 bench/faults.sh
#   sudo SEED=1234 bench/faults.sh             # repeat a run's random kill moments
#
# CASES (default "kill9 reload_fire") picks from kill9, reload_fire,
# bad_corpus, million, fallback. Each case runs as its own check run, so one
# failing does not hide the others; the exit status is non-zero if any
# failed. Every line the suite prints about what it did ("faults: ...") goes
# to the terminal and to bench/out/faults-<date>.txt, with the full output.
# The suite builds and removes its own network namespaces (fwdt-<pid>-*);
# nothing here touches the machine's own namespace.

. "$(dirname "$0")/lib.sh"

KILLS=${KILLS:-2000}		# fwd --oneshot runs killed at a random moment
DAEMON_KILLS=${DAEMON_KILLS:-500}	# daemons killed during start-up or a SIGHUP re-apply
RELOADS=${RELOADS:-3000}	# SIGHUP re-applies under fire ...
RELOAD_SECS=${RELOAD_SECS:-300}	# ... paced over this many seconds
MILLION=${MILLION:-1000000}	# allowlist entries for the million case
CASES=${CASES:-"kill9 reload_fire"}
SEED=${SEED:-}
CHECK=${FWD_CHECK_FAULTS:-$BUILD/tests/check-faults}

need_tools
[ -x "$CHECK" ] || die "no $CHECK (build first: ninja -C $BUILD tests/check-faults)"
[ -x "$NETTOOL" ] || die "no nettool at $NETTOOL"

# libcheck's per-case timeouts are sized for the suite's counts (200 kills,
# 300 reloads in 30 s): scale them with the longest run asked for.
mult=$(awk -v k="$KILLS" -v d="$DAEMON_KILLS" -v r="$RELOADS" -v s="$RELOAD_SECS" \
	-v m="$MILLION" 'BEGIN {
	x = k / 200; if (d / 50 > x) x = d / 50; if (r / 300 > x) x = r / 300
	if (s / 30 > x) x = s / 30; if (m / 1000000 > x) x = m / 1000000
	printf "%d", (x < 1 ? 1 : x) * 1.5 + 1 }')

start_report faults
report "# kills $KILLS (+ $DAEMON_KILLS daemon), reloads $RELOADS in $RELOAD_SECS s," \
	"million $MILLION, cases: $CASES, timeout x$mult${SEED:+, seed $SEED}"

failed=""
for c in $CASES; do
	note "case $c ..."
	t0=$EPOCHREALTIME
	set +e
	env FWD_SRCDIR="$SRC_DIR" FWD_BIN="$FWD" FWD_NETTOOL="$NETTOOL" \
		FWD_FAULTS_KILLS="$KILLS" FWD_FAULTS_DAEMON_KILLS="$DAEMON_KILLS" \
		FWD_FAULTS_RELOADS="$RELOADS" FWD_FAULTS_RELOAD_SECS="$RELOAD_SECS" \
		FWD_FAULTS_MILLION="$MILLION" ${SEED:+FWD_FAULTS_SEED=$SEED} \
		CK_RUN_CASE="$c" CK_TIMEOUT_MULTIPLIER="$mult" \
		"$CHECK" > "$SCRATCH/$c.out" 2>&1
	rc=$?
	set -e
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
	grep -E '^faults: |^[0-9]+%: Checks|:[EF]:' "$SCRATCH/$c.out" | tee -a "$REPORT" || true
	if [ "$rc" -eq 0 ]; then
		report "$c: passed in $secs s"
	else
		report "$c: FAILED (exit $rc) after $secs s"
		failed="$failed $c"
	fi
	{ echo "# full output of $c:"; sed 's/^/#   /' "$SCRATCH/$c.out"; } >> "$REPORT"
done
note "results in $REPORT"
[ -z "$failed" ] || die "failed:$failed"
