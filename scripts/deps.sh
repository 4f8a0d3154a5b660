#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install everything fwd needs to build, run, test and benchmark on Debian 12.
# Idempotent: does nothing when every package is already there.
set -eu

# Everything the suite runs, so that nothing in it skips (scripts/test.sh
# fails a run with a skipped test): nft, ip/ss, ping, conntrack, sysctl;
# useradd/userdel (passwd) and setpriv/unshare (util-linux) for the
# unprivileged-user tests; systemd-analyze, groff, man and python3 for the
# install suite; dpkg-dev, debhelper, lintian, mmdebstrap and
# systemd-container (systemd-nspawn) for the boot suite, which builds the
# Debian package and boots it; clang and its libFuzzer runtime for the fuzz
# targets' corpus replay; libexpat1-dev for `fwctl import firewalld`,
# iptables for the import suite (it runs only in the suite's namespaces;
# ufw and firewalld are unpacked there with apt-get download, never
# installed: their packages would manage the host's firewall); strace for
# bench/set-flags.sh's in-kernel time of nft's transaction.
PKGS="gcc pkg-config meson ninja-build
libmnl-dev libnftnl-dev libinih-dev libnetfilter-queue-dev check libexpat1-dev
nftables iproute2 iputils-ping conntrack procps time iptables
passwd util-linux python3
systemd groff-base man-db nmap
dpkg-dev debhelper lintian mmdebstrap systemd-container
clang libclang-rt-14-dev strace"

# shellcheck disable=SC2086
if dpkg-query -W -f='${Status}\n' $PKGS 2>/dev/null | grep -qv 'install ok installed' ||
   [ "$(dpkg-query -W -f='${Status}\n' $PKGS 2>/dev/null | wc -l)" -ne "$(echo $PKGS | wc -w)" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps.sh: missing packages; run as root: apt-get install -y $PKGS" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# Wait for another apt (unattended-upgrades on a fresh boot) rather than fail.
	apt-get -o DPkg::Lock::Timeout=600 update -qq
	# shellcheck disable=SC2086
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $PKGS >/dev/null
fi

# promtool, for `promtool check metrics` in the metrics tests. Debian ships
# it only inside the prometheus package, whose install starts a Prometheus
# server on the host; so the one binary (it needs only libc) is taken out
# of the downloaded .deb into .tools/ of this tree, where the tests look
# first. A promtool already on PATH is used as it is.
PROMTOOL_PKG=prometheus
TOOLS=$(cd "$(dirname "$0")/.." && pwd)/.tools
if ! command -v promtool >/dev/null 2>&1 && [ ! -x "$TOOLS/promtool" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# apt-get download writes into the current directory as _apt, or
	# warns and downloads as root.
	chown _apt "$tmp" 2>/dev/null || true
	(cd "$tmp" && apt-get -o DPkg::Lock::Timeout=600 download -qq "$PROMTOOL_PKG")
	dpkg-deb -x "$tmp"/"$PROMTOOL_PKG"_*.deb "$tmp/x"
	mkdir -p "$TOOLS"
	install -m 0755 "$tmp/x/usr/bin/promtool" "$TOOLS/promtool"
	"$TOOLS/promtool" --version >/dev/null
fi
