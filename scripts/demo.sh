#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Quick start, command 1: install what is needed, build, and run fwd on its
# built-in default policy inside a throwaway network namespace ("srv"),
# probed from a second one ("peer"). Your own namespace is never touched.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh build >/dev/null

FWD=build/daemon/fwd
NT=build/tests/nettool
tag="fwd-demo-$$"
srv="$tag-srv" peer="$tag-peer"
state=$(mktemp -d)
pids=""

cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	ip netns del "$srv" 2>/dev/null || true
	ip netns del "$peer" 2>/dev/null || true
	rm -rf "$state"
}
trap cleanup EXIT INT TERM

say() { printf '\n== %s\n' "$*"; }

ip netns add "$srv"
ip netns add "$peer"
ip link add "fwd$$a" netns "$srv" type veth peer name "fwd$$b" netns "$peer"
ip -n "$srv" link set lo up
ip -n "$peer" link set lo up
ip -n "$srv" addr add 192.0.2.1/24 dev "fwd$$a"
ip -n "$peer" addr add 192.0.2.2/24 dev "fwd$$b"
ip -n "$srv" addr add 2001:db8::1/64 dev "fwd$$a" nodad
ip -n "$peer" addr add 2001:db8::2/64 dev "fwd$$b" nodad
ip -n "$srv" link set "fwd$$a" up
ip -n "$peer" link set "fwd$$b" up

say "kernel features (fwd --probe)"
ip netns exec "$srv" $FWD --probe

say "starting fwd with no policy file: the built-in default applies"
ip netns exec "$srv" $FWD -c "$state/none.conf" --state-dir "$state" \
	-S "$state/fwd.sock" >"$state/fwd.log" 2>&1 &
fwdpid=$!
pids="$fwdpid"
i=0
until grep -q 'applied' "$state/fwd.log"; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $fwdpid 2>/dev/null; then
		cat "$state/fwd.log"; echo "demo: fwd did not start" >&2; exit 1
	fi
	sleep 0.1
done
cat "$state/fwd.log"

say "the live table (nft list table inet fwd_filter)"
ip netns exec "$srv" nft list table inet fwd_filter

# Listeners on 22 and 80 in srv, both families (:: is dual stack).
for port in 22 80; do
	ip netns exec "$srv" $NT listen tcp :: $port --timeout 60 >/dev/null 2>&1 &
	pids="$pids $!"
done
sleep 0.3

verdict() {
	case $1 in
	0) echo "open" ;; 1) echo "dropped (timeout)" ;; 2) echo "refused" ;;
	*) echo "error ($1)" ;;
	esac
}
probe() {
	rc=0
	ip netns exec "$peer" $NT connect tcp "$1" "$2" --timeout 1 >/dev/null 2>&1 || rc=$?
	printf '  peer -> %-12s tcp/%-3s %s\n' "$1" "$2" "$(verdict $rc)"
}

say "traffic from the peer namespace"
probe 192.0.2.1 22
probe 192.0.2.1 80
probe 2001:db8::1 22
probe 2001:db8::1 80

say "a live edit: fwctl allow 80/tcp from 192.0.2.2 (one kernel transaction)"
ip netns exec "$srv" build/ctl/fwctl -S "$state/fwd.sock" allow 80/tcp from 192.0.2.2 --runtime
probe 192.0.2.1 80
ip netns exec "$srv" build/ctl/fwctl -S "$state/fwd.sock" explain 192.0.2.2 80/tcp
ip netns exec "$srv" build/ctl/fwctl -S "$state/fwd.sock" remove 80/tcp from 192.0.2.2 --runtime
probe 192.0.2.1 80

say "stopping fwd (SIGTERM): the rules stay in the kernel"
kill -TERM $fwdpid
wait $fwdpid || true
tail -1 "$state/fwd.log"
probe 192.0.2.1 22
probe 192.0.2.1 80
echo
echo "demo done; namespaces removed on exit."
