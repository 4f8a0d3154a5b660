#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# New outbound TCP connections per second through fwd's owner rules vs the
# same with no fwd, in paired rounds (ratio per round, median over RUNS
# rounds, default 7). Targets (issue 12): a user or unit rule at least
# 0.95x of no fwd; a program rule at least 0.5x (its first packet of each
# flow goes through the verdict loop: queue, owner lookup, verdict).
#
#   sudo bench/outbound.sh
#   sudo RUNS=3 SECS=2 bench/outbound.sh
#   sudo FWD_OLD=/path/to/older/fwd bench/outbound.sh   # + progold: paired before/after
#
# Three pairs of namespaces, cli -> srv over veth (198.18.0.1 -> .2), the
# same client and server in each (bench/conn-rate.c: one connection at a
# time, connect + close with RST, so each is a new flow whose SYN goes
# through the output chain; the client runs as uid 65534 inside an
# emulated unit's cgroup in all three):
#   none: no fwd at all;
#   plain: fwd in cli, outbound = deny, the server port allowed to all
#     (a destination rule, no owner): what fwd costs a new flow anyway
#     (conntrack, the chain), so that user/plain is the owner match alone;
#   user: fwd in cli, outbound = deny, the server port allowed to user 65534;
#   unit: the same allowed to the unit (socket cgroupv2);
#   prog: the same allowed to the program conn-rate (program =, the verdict
#     loop's queue 16, program_limit raised out of the way); every
#     connection's SYN is queued once, which the queue's count and the
#     queue rule's kernel counter show at the end;
#   stateful: no fwd, but the least any stateful firewall does, loaded
#     with nft -f into cli (input: iif lo accept, ct state
#     established,related accept, drop; output: ct state
#     established,related accept, tcp dport 8443 accept, drop; fwd's hooks
#     and priorities): user/stateful is what the owner match costs against
#     that floor, stateful/none what conntrack and the hook cost;
#   nfqmin: fwd's table of prog (fwd --oneshot: the same queue rule,
#     queues 16-17 by CPU, the same meter), but no fwd: bench/nfq-min, the
#     minimal accept-all NFQUEUE loop, on each queue, pinned to that
#     queue's CPU as fwd's workers are. It reads the packet and accepts it,
#     no owner lookup: prog/nfqmin is what fwd's decision (sock_diag, the
#     /proc checks, the rule) costs over the least any queue does, and
#     nfqmin/none the floor of a decision in userspace on this machine
#     (the queue's two context switches and two system calls);
#   deep: the same allowed to the unit and to a unit five cgroup levels
#     down (a user unit's shape, named by its path), the client in the
#     deep one: its SYN misses the level 2 lookups, then matches at level
#     5, so deep/unit is what one more level of units costs a flow.
# The unit's cgroup is <cgroup2>/system.slice/fwdt-<pid>-bench.service in a
# cgroup2 mount this script makes in a private mount namespace (it re-runs
# itself under `unshare -m`), removed at the end. Rounds alternate the
# configurations, so drift in the machine's load hits all alike.
#
# PIN=1 adds progsame and progcross, an experiment on where the program
# decision runs: the client on CPU 0 and fwd (all its threads) on CPU 0,
# or on CPU 1 (taskset); the server is not pinned.

if [ -z "${FWD_BENCH_MNTNS:-}" ]; then
	FWD_BENCH_MNTNS=1 exec unshare -m --propagation private "$0" "$@"
fi

. "$(dirname "$0")/lib.sh"

RATE=${CONN_RATE:-$BUILD/tests/conn-rate}
NFQ_MIN=${NFQ_MIN:-$BUILD/tests/nfq-min}
FWCTL=${FWCTL_BIN:-$BUILD/ctl/fwctl}
RUNS=${RUNS:-7}
SECS=${SECS:-3}
PORT=8443
UNIT=fwdt-$$-bench.service
DEEP=fwdt-$$-bench.slice/user-1.slice/user@1.service/app.slice/fwdt-$$-app.service

need_tools setpriv
[ -x "$RATE" ] || die "no conn-rate at $RATE (build first)"
[ -x "$NFQ_MIN" ] || die "no nfq-min at $NFQ_MIN (build first)"
start_report outbound

# cgroup2: a mount of our own (ip netns exec replaces /sys).
CG=$SCRATCH/cg
mkdir "$CG"
mount -t cgroup2 none "$CG" || die "cannot mount cgroup2"
MADE_SLICE=
[ -d "$CG/system.slice" ] || { mkdir "$CG/system.slice"; MADE_SLICE=1; }
mkdir "$CG/system.slice/$UNIT"
mkdir -p "$CG/$DEEP"
cg_cleanup() {
	rmdir "$CG/system.slice/$UNIT" 2>/dev/null || true
	[ ! -d "$CG/${DEEP%%/*}" ] || find "$CG/${DEEP%%/*}" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	[ -z "$MADE_SLICE" ] || rmdir "$CG/system.slice" 2>/dev/null || true
	umount -l "$CG" 2>/dev/null || true
	bench_cleanup
}
trap cg_cleanup EXIT

pair() {	# pair NAME: namespaces NAME-cli and NAME-srv, linked, server up
	local c s
	ns_add c "$1-cli"
	ns_add s "$1-srv"
	ip link add "fo$$" netns "$c" type veth peer name "fi$$" netns "$s"
	ip -n "$c" addr add 198.18.0.1/24 dev "fo$$"
	ip -n "$s" addr add 198.18.0.2/24 dev "fi$$"
	ip -n "$c" link set "fo$$" up
	ip -n "$s" link set "fi$$" up
	ip netns exec "$s" "$RATE" serve 198.18.0.2 "$PORT" 100000 >"$SCRATCH/$1-serve.log" 2>&1 &
	disown	# killed with its namespace at the end: no job notice
	for _ in $(seq 50); do grep -q ready "$SCRATCH/$1-serve.log" && break; sleep 0.1; done
	grep -q ready "$SCRATCH/$1-serve.log" || die "server $1 did not start"
	eval "NS_$1=$c"
}

fwd_in() {	# fwd_in NAME OWNER-LINE [DEFAULTS-LINE]: fwd in NAME-cli with the rule
	local ns=NS_$1
	cat >"$SCRATCH/$1.conf" <<POL
[defaults]
outbound = deny
${3:-}

[service ssh]
ports = 22/tcp
allow = any

[service bench]
direction = out
ports = $PORT/tcp
allow = 198.18.0.2
$2
POL
	mkdir -m 0700 "$SCRATCH/$1-state"
	if [ -n "${FWD_ONESHOT:-}" ]; then
		ip netns exec "${!ns}" "$FWD" --oneshot -c "$SCRATCH/$1.conf" --state-dir '' \
			>"$SCRATCH/$1-fwd.log" 2>&1 || die "fwd --oneshot ($1): $(cat "$SCRATCH/$1-fwd.log")"
		return 0
	fi
	ip netns exec "${!ns}" ${FWD_CPU:+taskset -c "$FWD_CPU"} "${FWD_THIS:-$FWD}" -c "$SCRATCH/$1.conf" --state-dir "$SCRATCH/$1-state" \
		-S "$SCRATCH/$1.sock" >"$SCRATCH/$1-fwd.log" 2>&1 &
	eval "FWDPID_$1=$!"	# ip netns exec (and taskset) exec fwd: its pid
	disown
	for _ in $(seq 100); do grep -q "fwd: applied" "$SCRATCH/$1-fwd.log" && break; sleep 0.1; done
	grep -q "fwd: applied" "$SCRATCH/$1-fwd.log" || die "fwd ($1): $(cat "$SCRATCH/$1-fwd.log")"
}

rate() {	# rate NAME: "RATE CPU_US" (connections/s, CPU per connection) from NAME-cli
	local ns=NS_$1 cg="$CG/system.slice/$UNIT"
	[ "$1" != deep ] || cg="$CG/$DEEP"
	local pin=
	case $1 in progsame|progcross) pin="taskset -c 0" ;; esac
	sh -c "echo \$\$ > '$cg/cgroup.procs' && exec ip netns exec '${!ns}' $pin \
		setpriv --reuid=65534 --regid=65534 --clear-groups '$RATE' connect 198.18.0.2 $PORT $SECS" |
		awk '{ if ($8 != 0) { print "fails " $8 > "/dev/stderr"; exit 1 } print $6, $10, $2 }'
}

fwd_cpu_us() {	# fwd_cpu_us NAME: CPU time (user + system, us) of NAME's fwd so far
	local p=FWDPID_$1
	awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.0f\n", ($12 + $13) * 1e6 / t }' \
		"/proc/${!p}/stat"
}

pair none
pair plain
pair user
pair unit
pair prog
pair nfqmin
pair deep
pair stateful
# The same hooks and priority as fwd's base chains (filter, 0).
ip netns exec "$NS_stateful" nft -f - <<NFT || die "cannot load the stateful ruleset"
table inet bench_stateful {
	chain input {
		type filter hook input priority filter; policy accept;
		iif "lo" accept
		ct state established,related accept
		drop
	}
	chain output {
		type filter hook output priority filter; policy accept;
		ct state established,related accept
		tcp dport $PORT accept
		drop
	}
}
NFT
CFGS="none stateful plain user unit prog nfqmin deep"
if [ -n "${PIN:-}" ]; then
	[ "$(nproc)" -ge 2 ] || die "PIN=1 needs two CPUs"
	pair progsame
	pair progcross
	CFGS="$CFGS progsame progcross"
fi
if [ -n "${FWD_OLD:-}" ]; then	# a paired before/after of the program rule
	[ -x "$FWD_OLD" ] || die "FWD_OLD=$FWD_OLD is not an executable"
	pair progold
	CFGS="$CFGS progold"
fi
fwd_in plain ""
fwd_in user "user = 65534"
fwd_in unit "unit = $UNIT"
fwd_in deep "unit = $UNIT, $DEEP"
# The per-user meter in front of queue 16 (program_limit, default 1000/1s)
# would cap the one client at 1000 connections a second: this measures
# the loop's round trip, so the limit is set out of the way.
fwd_in prog "program = $(readlink -f "$RATE")" "program_limit = 1000000/1s"
# nfqmin: prog's table without fwd, a minimal loop on each of its queues.
FWD_ONESHOT=1 fwd_in nfqmin "program = $(readlink -f "$RATE")" "program_limit = 1000000/1s"
# fwd's program queues: 16 + CPU, one per CPU up to 16 (vloop.c).
ncpu=$(nproc); [ "$ncpu" -le 16 ] || ncpu=16
for q in $(seq 16 $((15 + ncpu))); do
	ip netns exec "$NS_nfqmin" taskset -c $(( (q - 16) % $(nproc) )) "$NFQ_MIN" "$q" 36000 \
		>"$SCRATCH/nfqmin-$q.log" 2>&1 &
	disown	# killed with its namespace at the end
	for _ in $(seq 50); do grep -q ready "$SCRATCH/nfqmin-$q.log" && break; sleep 0.1; done
	grep -q ready "$SCRATCH/nfqmin-$q.log" || die "nfq-min did not bind queue $q"
done
if [ -n "${PIN:-}" ]; then
	FWD_CPU=0 fwd_in progsame "program = $(readlink -f "$RATE")" "program_limit = 1000000/1s"
	FWD_CPU=1 fwd_in progcross "program = $(readlink -f "$RATE")" "program_limit = 1000000/1s"
fi
if [ -n "${FWD_OLD:-}" ]; then
	# An older fwd may not know program_limit (then it has no meter).
	if "$FWD_OLD" -n -c "$SCRATCH/prog.conf" >/dev/null 2>&1; then
		FWD_THIS=$FWD_OLD fwd_in progold "program = $(readlink -f "$RATE")" \
			"program_limit = 1000000/1s"
	else
		FWD_THIS=$FWD_OLD fwd_in progold "program = $(readlink -f "$RATE")"
	fi
	for _ in $(seq 50); do grep -q "bound queue 16" "$SCRATCH/progold-fwd.log" && break; sleep 0.1; done
fi
for _ in $(seq 50); do grep -q "bound queue 16" "$SCRATCH/prog-fwd.log" && break; sleep 0.1; done
grep -q "bound queue 16" "$SCRATCH/prog-fwd.log" || die "fwd (prog): queue 16 not bound"
for c in ${PIN:+progsame progcross}; do
	for _ in $(seq 50); do grep -q "bound queue 16" "$SCRATCH/$c-fwd.log" && break; sleep 0.1; done
	grep -q "bound queue 16" "$SCRATCH/$c-fwd.log" || die "fwd ($c): queue 16 not bound"
done
grep -q "unit cgroups\|elements" "$SCRATCH/unit-fwd.log" || true
# grep without -q: it reads nft's output to the end (pipefail would take
# nft's SIGPIPE after an early match for a missing element).
ip netns exec "$NS_unit" nft list set inet fwd_filter out_unit4 | grep "198.18.0.2 . tcp . $PORT" >/dev/null ||
	die "the unit's element is not in out_unit4"
ip netns exec "$NS_deep" nft list table inet fwd_filter | grep "socket cgroupv2 level 5 . ip daddr" >/dev/null ||
	die "no level 5 lookup in the deep config's chain"
[ "$(ip netns exec "$NS_deep" nft list set inet fwd_filter out_unit4 | grep -o "198.18.0.2 . tcp . $PORT" | wc -l)" = 2 ] ||
	die "the deep config's out_unit4 does not hold both units"
# A denied client proves the rules are in force: root is not allowed.
if ip netns exec "$NS_user" timeout 3 "$RATE" connect 198.18.0.2 "$PORT" 1 | grep -q "conns [1-9]"; then
	die "root got through the user rule"
fi

report "# SECS=$SECS per measurement, RUNS=$RUNS rounds, one connection at a time, load $(cut -d' ' -f1-3 /proc/loadavg)"
report "# rate: connections/s (wall); cpu: the client's CPU us per connection (the output"
report "# hook runs in its connect()); ratio A/B: rate_A/rate_B, and for cpu cpu_B/cpu_A"
report "# (both: 1.0 = as fast as B, less = slower)"
report "round $(for c in $CFGS; do printf '%s ' "$c:rate/cpu"; done)load1"
div() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.3f", x / y }'; }
med() { printf '%s\n' "$@" | median; }
declare -A R C F VF
# The pairs reported: A/B for rate and CPU, medians over the rounds.
PAIRS="user/none unit/none plain/none prog/none nfqmin/none prog/nfqmin stateful/none
user/stateful unit/stateful plain/stateful prog/stateful
user/plain unit/plain deep/unit"
[ -z "${FWD_OLD:-}" ] || PAIRS="$PAIRS prog/progold"
[ -z "${PIN:-}" ] || PAIRS="$PAIRS progsame/progcross progsame/none progcross/none"
declare -A VR VC	# "A/B" -> space-separated ratios per round
for r in $(seq "$RUNS"); do
	line="$r"
	for cfg in $CFGS; do
		case $cfg in prog*) f0=$(fwd_cpu_us "$cfg") ;; esac
		read -r R[$cfg] C[$cfg] N < <(rate "$cfg")
		line="$line ${R[$cfg]}/${C[$cfg]}"
		case $cfg in prog*)
			# fwd's CPU per decision (its whole process: the queue
			# worker's receive, owner lookup, verdict and reinjection,
			# and any spin), in us; clock ticks, so only over rounds.
			F[$cfg]=$(div "$(( $(fwd_cpu_us "$cfg") - f0 ))" "$N")
			VF[$cfg]="${VF[$cfg]:-} ${F[$cfg]}"
			line="$line/fwd:${F[$cfg]}" ;;
		esac
	done
	for pr in $PAIRS; do
		a=${pr%/*} b=${pr#*/}
		VR[$pr]="${VR[$pr]:-} $(div "${R[$a]}" "${R[$b]}")"
		VC[$pr]="${VC[$pr]:-} $(div "${C[$b]}" "${C[$a]}")"
	done
	report "$line $(cut -d' ' -f1 /proc/loadavg)"
done
report "median ratios over $RUNS rounds (load at the end $(cut -d' ' -f1-3 /proc/loadavg)):"
report "pair rate cpu"
for pr in $PAIRS; do
	# shellcheck disable=SC2086 # the per-round values, split on purpose
	report "$pr $(med ${VR[$pr]}) $(med ${VC[$pr]})"
done
for cfg in $CFGS; do
	# shellcheck disable=SC2086 # the per-round values, split on purpose
	case $cfg in prog*) report "$cfg: fwd's CPU per decision (us, median) $(med ${VF[$cfg]})" ;; esac
done
report "targets: user/none and unit/none >= 0.95 (rate and CPU); prog/none rate >= 0.5"
report "counters: $(ip netns exec "$NS_user" nft list set inet fwd_filter out_user4 | grep -o 'counter packets [0-9]*' | head -1) (user), $(ip netns exec "$NS_unit" nft list set inet fwd_filter out_unit4 | grep -o 'counter packets [0-9]*' | head -1) (unit)"
# One packet per flow: the queue's count, the kernel's count of the queue
# rule, and the connections the program made (every round's) agree.
report "program queue: $(ip netns exec "$NS_prog" "$FWCTL" -S "$SCRATCH/prog.sock" status --json |
	grep -o '"queue":16,"bound":true,"queued":[0-9]*' | grep -o '[0-9]*$') queued; rule: $(ip netns exec "$NS_prog" nft list table inet fwd_filter |
	grep -o '@out_prog4 counter packets [0-9]* bytes [0-9]* [a-z]*' | grep -v ' accept$' |
	grep -o 'packets [0-9]*' | grep -o '[0-9]*$') packets (the label accept before it: $(ip netns exec \
	"$NS_prog" nft list table inet fwd_filter | grep -o 'ct label 127 ip daddr[^@]*@out_prog4 counter packets [0-9]*' |
	grep -o '[0-9]*$' || echo none)); decisions: $(ip netns exec "$NS_prog" "$FWCTL" -S "$SCRATCH/prog.sock" status --json |
	grep -o '"program":{[^}]*}'); meter drops: $(ip netns exec "$NS_prog" nft list table inet fwd_filter |
	grep -o 'packets } counter packets [0-9]*' | head -1 | grep -o '[0-9]*$')"
