#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `fwctl audit` with N (default 10000) sockets open vs `ss -ltnup` on the
# same sockets, in the same namespace, in paired rounds (ratio per round,
# median over RUNS rounds, default 15). Targets: fwctl audit under 0.2 s
# and within 2x of ss.
#
#   sudo bench/audit.sh
#   sudo N=2000 RUNS=5 bench/audit.sh
#
# One namespace `aud`: fwd with a small policy (ports of the listeners
# allowed from any, from a list, or not at all, so every verdict occurs),
# and bench/listen-many.c holding the N sockets (TCP listeners, IPv4 and
# dual-stack IPv6, every tenth a bound UDP socket). Both commands are timed
# inside the namespace (bash $EPOCHREALTIME around them: fork and exec
# included, `ip netns exec` not), their output to /dev/null. Both read the
# kernel's sockets with sock_diag and walk /proc/*/fd to find owners; the
# audit also judges every socket against the running rules and sends the
# table over the control socket.

. "$(dirname "$0")/lib.sh"

FWCTL=${FWCTL_BIN:-$BUILD/ctl/fwctl}
MANY=${LISTEN_MANY:-$BUILD/tests/listen-many}
N=${N:-10000}
RUNS=${RUNS:-15}
FIRST=20000

need_tools ss
[ -x "$MANY" ] || die "no listen-many at $MANY (build first)"
[ -x "$FWCTL" ] || die "no fwctl at $FWCTL (build first)"
mkdir -p "$OUT_DIR"
OUT=$OUT_DIR/audit-$(date +%Y%m%d-%H%M%S).txt

ns_add NS aud
mkdir -m 0700 "$SCRATCH/state"
cat >"$SCRATCH/fwd.conf" <<POL
[list office]
members = 192.0.2.0/24, 2001:db8:a::/64

[service open]
ports = $FIRST-$((FIRST + N / 2 - 1))/tcp, $FIRST-$((FIRST + N - 1))/udp
allow = any

[service office]
ports = $((FIRST + N / 2))-$((FIRST + 3 * N / 4))/tcp
allow = @office
POL
SOCK=$SCRATCH/fwd.sock
ip netns exec "$NS" "$FWD" -c "$SCRATCH/fwd.conf" --state-dir "$SCRATCH/state" -S "$SOCK" \
	>"$SCRATCH/fwd.log" 2>&1 &
FWD_PID=$!	# ip netns exec execs fwd: the same process
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || die "fwd did not start: $(cat "$SCRATCH/fwd.log")"
ip netns exec "$NS" "$MANY" "$N" "$FIRST" >"$SCRATCH/many.log" 2>&1 &
for _ in $(seq 200); do grep -q ready "$SCRATCH/many.log" && break; sleep 0.1; done
grep -q "ready $N" "$SCRATCH/many.log" || die "listen-many: $(cat "$SCRATCH/many.log")"

# What both see, once, untimed: the same sockets.
got=$(ip netns exec "$NS" "$FWCTL" -S "$SOCK" audit --json | grep -o '"verdict"' | wc -l)
ss_got=$(ip netns exec "$NS" ss -ltnupH | wc -l)
[ "$got" -eq "$N" ] || die "fwctl audit lists $got sockets, not $N"
[ "$ss_got" -eq "$N" ] || die "ss lists $ss_got sockets, not $N"

timed() {	# timed CMD...: "WALL CPU" in seconds, inside the namespace
	ip netns exec "$NS" bash -c 't0=$EPOCHREALTIME
		/usr/bin/time -f "%U %S" -o "$T" "$@" >/dev/null; t1=$EPOCHREALTIME
		read -r u s <"$T"; echo "$t0 $t1 $u $s" |
		awk "{ printf \"%.6f %.2f\n\", \$2 - \$1, \$3 + \$4 }"' _ "$@"
}
export T=$SCRATCH/time.out

fwd_cpu() {	# fwd's user + system CPU so far, seconds
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' \
		"/proc/$FWD_PID/stat"
}

{
	echo "# bench/audit.sh: N=$N sockets, RUNS=$RUNS, $(date -u +%FT%TZ), $(uname -r)," \
		"load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# wall: fork/exec to exit; cpu: user+system (the audit's includes fwd's share)"
	echo "# round  audit_wall_s  ss_wall_s  wall_ratio  audit_cpu_s  ss_cpu_s"
} | tee "$OUT"
ratios=() ta=() ts=() ca=() cs=()
for r in $(seq "$RUNS"); do
	# Alternate which goes first, so neither always finds a warm cache.
	c0=$(fwd_cpu)
	if [ $((r % 2)) -eq 0 ]; then
		read -r a ac < <(timed "$FWCTL" -S "$SOCK" audit); c1=$(fwd_cpu)
		read -r s sc < <(timed ss -ltnup)
	else
		read -r s sc < <(timed ss -ltnup); c0=$(fwd_cpu)
		read -r a ac < <(timed "$FWCTL" -S "$SOCK" audit); c1=$(fwd_cpu)
	fi
	ac=$(awk -v a="$ac" -v x="$c0" -v y="$c1" 'BEGIN { printf "%.2f", a + y - x }')
	q=$(awk -v a="$a" -v s="$s" 'BEGIN { printf "%.3f", a / s }')
	ta+=("$a") ts+=("$s") ratios+=("$q") ca+=("$ac") cs+=("$sc")
	echo "$r $a $s $q $ac $sc" | tee -a "$OUT"
done
ma=$(printf '%s\n' "${ta[@]}" | median)
ms=$(printf '%s\n' "${ts[@]}" | median)
mq=$(printf '%s\n' "${ratios[@]}" | median)
mca=$(printf '%s\n' "${ca[@]}" | median)
mcs=$(printf '%s\n' "${cs[@]}" | median)
{
	echo
	echo "| N | fwctl audit wall | ss -ltnup wall | wall ratio (median of rounds) |" \
		"audit CPU (fwd + fwctl) | ss CPU | targets |"
	echo "|---|---|---|---|---|---|---|"
	printf '| %s | %.3f s | %.3f s | %sx | %.2f s | %.2f s | < 0.2 s, <= 2x |\n' \
		"$N" "$ma" "$ms" "$mq" "$mca" "$mcs"
} | tee -a "$OUT"
note "table and raw runs in $OUT"
