#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Quick start, command 2: install what is needed, build, run the whole suite.
# Root is needed for the kernel and end-to-end suites (each runs in network
# namespaces it creates; the host's own firewall is never touched).
# Then the unit suites, the control socket and the daemon end to end again,
# built with ASan + UBSan (FWD_NO_SANITIZE=1 skips that part).
#
# Green means every test ran and passed, and the machine is as it was:
#  - a test that skipped for want of something (root, a program) fails the
#    run, with the list of what to install (scripts/deps.sh installs it all
#    on Debian 12); a skip for want of a kernel feature is reported only;
#  - the suites get a TMPDIR of their own, which must be empty at the end;
#  - what they could leave on the machine (test users and groups, fwdt-*
#    namespaces, the host's links, addresses, ruleset and the sysctls the
#    tests set in their namespaces, fwd's files under /etc, /var/lib, /run)
#    is recorded before and after; a difference fails the run.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh build

work=$(mktemp -d "${TMPDIR:-/tmp}/fwd-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Like /tmp: the unprivileged test users must reach their sockets in it.
chmod 755 "$work"
mkdir -m 1777 "$work/tmp"

# One line per thing; "user", "group" and "netns" lines name a runner pid.
machine_state() {
	getent passwd | cut -d: -f1 | grep '^fwdt' | sed 's/^/user /' || true
	getent group | cut -d: -f1 | grep '^fwdt' | sed 's/^/group /' || true
	ip netns list 2>/dev/null | awk '$1 ~ /^fwdt-/ { print "netns " $1 }'
	for k in net.ipv4.ip_forward net.ipv4.conf.all.forwarding \
		net.ipv6.conf.all.forwarding net.ipv6.conf.all.accept_dad \
		net.ipv6.conf.default.accept_dad net.netfilter.nf_conntrack_tcp_loose \
		net.core.rmem_max net.core.wmem_max; do
		echo "sysctl $k=$(sysctl -n "$k" 2>/dev/null || echo -)"
	done
	echo "ruleset $(nft list ruleset 2>&1 | sha256sum | cut -c1-16)"
	ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print "link " $2 }'
	ip -br addr | awk '{ $2 = ""; print "addr " $0 }'
	for d in /etc/fwd /var/lib/fwd /run/fwd; do
		[ -e "$d" ] && find "$d" -printf 'file %p %s %T@\n'
	done
	true
}

# Lines of $2 not in $1 and lines of $1 not in $2, as findings. A new user,
# group or namespace of a runner that is still alive belongs to someone
# else's run on the same machine; ours have all ended.
compare_state() {
	comm -13 "$1" "$2" | while read -r kind name; do
		case $kind in
		user | group | netns)
			pid=$(echo "$name" | sed -n 's/^fwdt-\{0,1\}\([0-9][0-9]*\).*/\1/p')
			if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
				continue
			fi
			;;
		esac
		echo "  left behind: $kind $name"
	done
	comm -23 "$1" "$2" | grep -Ev '^(user|group|netns) ' | sed 's/^/  changed, was: /' || true
}

# "SKIP: ..." lines (tests/testutil.c) and meson's own skips in a test log.
SKIPS="$work/skips"
: >"$SKIPS"
collect_skips() {
	log=$1/meson-logs/testlog.txt
	[ -f "$log" ] || return 0
	grep -h '^SKIP' "$log" | sed "s|^|$1: |" >>"$SKIPS" || true
	if grep -Eq '^Skipped: +[1-9]' "$log"; then
		echo "$1: meson counted skipped tests: $(grep -E '^Skipped:' "$log")" >>"$SKIPS"
	fi
}

LC_ALL=C machine_state | LC_ALL=C sort >"$work/before"
export TMPDIR="$work/tmp"
rc=0

# -v: every suite's own closing line (libcheck's "Checks: N, Failures: 0")
# is printed, not only meson's summary.
meson test -C build --print-errorlogs -v "$@" || rc=1
collect_skips build
if [ $# -eq 0 ] && [ "${FWD_NO_SANITIZE:-0}" != 1 ]; then
	echo "== the same under AddressSanitizer + UndefinedBehaviorSanitizer"
	sh scripts/sanitize.sh --suite unit || rc=1
	collect_skips build-asan
	# The daemon and fwctl instrumented, driven end to end. Leak checks
	# stay on for the unit suites only: forked test children and killed
	# daemons exit without freeing by design.
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 CK_TIMEOUT_MULTIPLIER=3 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-asan --print-errorlogs --timeout-multiplier 2 control e2e || rc=1
	collect_skips build-asan
fi

if [ $# -eq 0 ]; then
	# The parsers of outside input, built with clang as libFuzzer targets
	# (bench/fuzz.sh fuzzes them), replay their seed corpora and the inputs
	# that once crashed them; this also keeps fwd building with clang.
	echo "== the fuzz targets replay their corpora (clang, ASan + UBSan)"
	if [ ! -f build-fuzz/build.ninja ]; then
		CC=clang meson setup build-fuzz -Dfuzz=true >/dev/null || rc=1
	fi
	meson test -C build-fuzz --print-errorlogs --suite fuzz || rc=1
	collect_skips build-fuzz
fi

echo "== what the run left"
LC_ALL=C machine_state | LC_ALL=C sort >"$work/after"
LC_ALL=C compare_state "$work/before" "$work/after" >"$work/left"
find "$TMPDIR" -mindepth 1 -maxdepth 1 | sed 's/^/  left in the suites'"'"' TMPDIR: /' >>"$work/left"
if [ -s "$work/left" ]; then
	echo "test.sh: FAIL: the suites did not clean up after themselves:"
	cat "$work/left"
	rc=1
else
	echo "nothing: users, groups, namespaces, sysctls, the host's ruleset, links and addresses as before; TMPDIR empty"
fi

echo "== skipped tests"
if grep -q 'SKIP (kernel)' "$SKIPS"; then
	echo "note: this kernel lacks what these tests need (nothing to install):"
	grep 'SKIP (kernel)' "$SKIPS" | sort | uniq -c
fi
if grep -v 'SKIP (kernel)' "$SKIPS" | grep -q .; then
	echo "test.sh: FAIL: tests were skipped, so this run proves less than it claims:"
	grep -v 'SKIP (kernel)' "$SKIPS" | sort | uniq -c
	if grep -q 'needs root' "$SKIPS"; then
		echo "  -> run as root (the kernel and end-to-end suites need it)"
	fi
	if grep -q 'Debian package' "$SKIPS"; then
		echo "  -> install: apt-get install -y$(grep -o 'Debian package: [a-z0-9.+-]*' "$SKIPS" |
			sort -u | sed 's/Debian package://' | tr -d '\n')" \
			"(sh scripts/deps.sh installs all of them)"
	fi
	rc=1
else
	echo "none"
fi
exit $rc
