#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# boot-test.sh SRCDIR
#
# The Debian package, built, installed and booted for real (open issue 13
# sections 1 and 2). Heavy things happen once: one package build, one
# mmdebstrap root (made while the package builds), one root booted twice.
#
#  1. dpkg-buildpackage -us -uc -b of a copy of SRCDIR (its test step runs
#     the unit suites); the package's files; lintian: no errors, no
#     warnings. A "previous version" is the same package repacked with a
#     lower version and an older default policy, to upgrade over.
#  2. A Debian 12 root from the archive this machine's apt uses
#     (/etc/apt/sources.list*), the previous version installed with dpkg
#     in a chroot: files, conffile, unit enabled; `fwd -n` and
#     `fwd --oneshot` from the installed paths in a network namespace of
#     their own (unshare -n).
#  3. The root booted with systemd-nspawn -b --private-network (systemd as
#     PID 1, a network namespace of its own): fwd active, and READY
#     before network-pre.target; the table live; the upgrade (restart,
#     table kept, conffile replaced when untouched and kept when edited);
#     every fwctl command with the default socket under the unit's
#     hardening; `systemctl reload` good and bad (fails, says FILE:LINE,
#     rules unchanged); kill -9 and restart with the table there all
#     along; stop leaves the rules.
#  4. Rebooted with a broken policy: the last good one. Then dpkg -r
#     (fwd stopped, rules still in the kernel, conffile kept) and dpkg -P
#     (state dir and /etc/fwd gone).
#
# Everything outside the host: the container has its own network
# namespace, nspawn runs in a mount namespace of its own (a tmpfs /run,
# which nspawn needs and this host's /run is not), commands inside run
# through nsenter. The host's firewall and network are never touched;
# mmdebstrap and apt download from the configured archive only.
#
# Prints "ok"/"FAIL" lines and "N passed, N failed"; exit 0 when all
# passed, 77 (meson: skipped) when it cannot run outside CI, non-zero
# otherwise. Under CI=true it fails instead of skipping.
#
# FWD_BOOT_TARBALL=FILE uses an existing mmdebstrap tarball (development
# only: a run otherwise makes its own, and CI starts fresh).
set -u
export LC_ALL=C.UTF-8

if (($# != 1)) || [[ ! -f $1/debian/control ]]; then
	echo "usage: $0 SRCDIR (the source tree, with debian/)" >&2
	exit 2
fi
src=$(cd "$1" && pwd)

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
nok() { fail=$((fail + 1)); echo "FAIL $*"; }
indent() { sed 's/^/     | /'; }

# Cannot run: skip (77), or fail under CI=true.
cannot() {
	if [[ ${CI:-} == true ]]; then
		echo "FAIL (CI=true, so not skipped): $*"
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}

(($(id -u) == 0)) || cannot "needs root"
for p in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian mmdebstrap:mmdebstrap \
	systemd-nspawn:systemd-container nsenter:util-linux unshare:util-linux \
	nft:nftables meson:meson; do
	command -v "${p%%:*}" >/dev/null ||
		cannot "${p%%:*} not installed (Debian package: ${p#*:})"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/fwd-boot.XXXXXX") || exit 1
# Whatever the tools leave in TMPDIR (lintian's caches, debhelper's
# runtime dir) goes with $work.
mkdir "$work/tmp"
export TMPDIR=$work/tmp
root=$work/root
nspawn_pid=
mm_pid=

cleanup() {
	if [[ -n $nspawn_pid ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
		kill -TERM "$nspawn_pid" 2>/dev/null
		for _ in $(seq 1 100); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$nspawn_pid" 2>/dev/null
		wait "$nspawn_pid" 2>/dev/null
	fi
	if [[ -n $mm_pid ]] && kill -0 "$mm_pid" 2>/dev/null; then
		kill -TERM "$mm_pid" 2>/dev/null
		wait "$mm_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

finish() {
	echo "$pass passed, $fail failed"
	((fail == 0))
	exit
}

# ---- 2a (started first, it takes minutes): the root ---------------------

# The archive as this machine's apt has it: every active sources file,
# pasted as it is into the root's sources.list (mmdebstrap takes a file
# as a MIRROR, one-line or deb822).
mirrors=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[[ -f $f ]] && grep -Eq '^[[:space:]]*[^#[:space:]]' "$f" && mirrors+=("$f")
done
((${#mirrors[@]})) || cannot "no apt sources in /etc/apt/sources.list*"

# systemd as PID 1, and what fwd and fwctl link against (libexpat1 for
# fwctl import firewalld; a changed dependency
# shows as a failing dpkg -i below, with dpkg's message).
tarball=$work/root.tar
if [[ -n ${FWD_BOOT_TARBALL:-} ]]; then
	tarball=$FWD_BOOT_TARBALL
else
	mmdebstrap --variant=minbase --format=tar \
		--include=systemd-sysv,libmnl0,libnftnl11,libinih1,libnetfilter-queue1,libexpat1 \
		bookworm "$tarball" "${mirrors[@]}" >"$work/mmdebstrap.log" 2>&1 &
	mm_pid=$!
fi

# ---- 1. the package -----------------------------------------------------

t0=$SECONDS
mkdir -p "$work/pkg/fwd"
tar -C "$src" --exclude=./.git --exclude='./build*' --exclude='./obj-*' \
	--exclude=./debian/fwd --exclude=./debian/.debhelper --exclude='./debian/*.substvars' \
	--exclude=./debian/files --exclude=./debian/debhelper-build-stamp -cf - . |
	tar -C "$work/pkg/fwd" -xf -
ver=$(cd "$work/pkg/fwd" && dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
deb=$work/pkg/fwd_${ver}_${arch}.deb
if (cd "$work/pkg/fwd" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 && [[ -f $deb ]]; then
	ok "dpkg-buildpackage -us -uc -b: fwd_${ver}_${arch}.deb ($((SECONDS - t0)) s)"
else
	nok "dpkg-buildpackage -us -uc -b (last lines of its output follow)"
	tail -n 30 "$work/build.log" | indent
	finish
fi
# The test step ran the unit suites, all of them, and nothing skipped.
summary=$(sed -n '/^Ok:/,/^Timeout:/p' "$work/build.log")
units=$(grep -cE '^ *[0-9]+/[0-9]+ +fwd:unit / ' "$work/build.log")
if grep -q 'meson test --suite unit' "$work/build.log" && ((units >= 6)) &&
   grep -Eq '^Fail: +0' <<<"$summary" && grep -Eq '^Skipped: +0' <<<"$summary"; then
	ok "the build's test step ran $units unit suites, none failed or skipped"
else
	nok "the build's test step (meson test --suite unit): $units suites; $(tr '\n' ' ' <<<"$summary")"
fi

files=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|')
for f in /usr/sbin/fwd /usr/sbin/fwctl /lib/systemd/system/fwd.service /etc/fwd/fwd.conf \
	/etc/fwd/conf.d/ /usr/share/doc/fwd/fwd.conf.example /usr/share/man/man8/fwd.8.gz \
	/usr/share/man/man8/fwctl.8.gz /usr/share/man/man5/fwd.conf.5.gz \
	/usr/share/bash-completion/completions/fwctl /usr/share/bash-completion/completions/fwd \
	/usr/share/doc/fwd/copyright; do
	if grep -qxF "$f" <<<"$files"; then ok "package has $f"; else nok "package lacks $f"; fi
done
ctl=$work/ctl
mkdir "$ctl"
dpkg-deb -e "$deb" "$ctl"
if [[ $(cat "$ctl/conffiles" 2>/dev/null) == /etc/fwd/fwd.conf ]]; then
	ok "conffiles: /etc/fwd/fwd.conf"
else
	nok "conffiles: $(tr '\n' ' ' <"$ctl/conffiles" 2>/dev/null)"
fi
if cmp -s <(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./etc/fwd/fwd.conf) "$src/etc/fwd.conf"; then
	ok "/etc/fwd/fwd.conf is etc/fwd.conf"
else
	nok "/etc/fwd/fwd.conf is not etc/fwd.conf"
fi
# Restart after upgrade, no stop before it (see debian/rules).
if grep -q '_dh_action=restart' "$ctl/postinst"; then
	ok "postinst restarts fwd after an upgrade"
else
	nok "postinst does not restart fwd after an upgrade"
fi
if awk '/deb-systemd-invoke stop/ { found = 1 } END { exit !found }' "$ctl/prerm" 2>/dev/null &&
   grep -q '"\$1" = remove' "$ctl/prerm"; then
	ok "prerm stops fwd on remove only"
else
	nok "prerm: $(grep -n 'stop\|\$1' "$ctl/prerm" 2>/dev/null | tr '\n' ' ')"
fi

lint=$(lintian --fail-on none "$work/pkg/fwd_${ver}_${arch}.changes" 2>&1)
if grep -Eq '^[EW]: ' <<<"$lint"; then
	nok "lintian: errors or warnings"
	grep -E '^[EW]: ' <<<"$lint" | indent
else
	ok "lintian: no errors, no warnings"
fi

# The previous version: this package repacked with a lower version and
# another default policy, so that the upgrade replaces an untouched
# conffile.
prev=${ver}~prev1
prevdeb=$work/pkg/fwd_${prev}_${arch}.deb
rm -rf "$work/prev"
if dpkg-deb -R "$deb" "$work/prev" &&
   sed -i "s/^Version: .*/Version: $prev/" "$work/prev/DEBIAN/control" &&
   printf '\n; (the default of version %s)\n' "$prev" >>"$work/prev/etc/fwd/fwd.conf" &&
   (cd "$work/prev" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
	xargs -0 md5sum >DEBIAN/md5sums) &&
   dpkg-deb --root-owner-group -b "$work/prev" "$prevdeb" >/dev/null; then
	ok "previous version $prev (repacked)"
else
	nok "repacking the previous version"
	finish
fi

# ---- 2b. the root, the previous version installed in a chroot -----------

if [[ -n $mm_pid ]]; then
	wait "$mm_pid"
	rc=$?
	mm_pid=
	if ((rc != 0)); then
		nok "mmdebstrap bookworm ${mirrors[*]} (exit $rc):"
		tail -n 20 "$work/mmdebstrap.log" | indent
		finish
	fi
	ok "mmdebstrap: a Debian 12 root from ${mirrors[*]}"
fi
mkdir "$root"
tar -C "$root" -xf "$tarball" || { nok "extracting $tarball"; finish; }
echo fwdboot >"$root/etc/hostname"

inroot() { TMPDIR=/tmp chroot "$root" "$@"; }
# Not /tmp: the booted system mounts a tmpfs over it.
cp "$prevdeb" "$deb" "$root/root/"
if out=$(DEBIAN_FRONTEND=noninteractive inroot dpkg -i "/root/${prevdeb##*/}" </dev/null 2>&1); then
	ok "dpkg -i fwd $prev (chroot)"
else
	nok "dpkg -i fwd $prev:"
	indent <<<"$out"
	finish
fi
for f in /usr/sbin/fwd /usr/sbin/fwctl /lib/systemd/system/fwd.service /etc/fwd/conf.d; do
	[[ -e $root$f ]] && ok "installed $f" || nok "not installed: $f"
done
if [[ -L $root/etc/systemd/system/sysinit.target.wants/fwd.service ]]; then
	ok "fwd.service enabled (sysinit.target.wants)"
else
	nok "fwd.service not enabled"
fi
if cmp -s "$root/etc/fwd/fwd.conf" "$work/prev/etc/fwd/fwd.conf"; then
	ok "/etc/fwd/fwd.conf is $prev's default"
else
	nok "/etc/fwd/fwd.conf is not $prev's default"
fi

# fwd from the installed paths, in a network namespace of its own.
out=$(TMPDIR=/tmp unshare -n chroot "$root" /usr/sbin/fwd -n 2>&1)
if [[ $out == *"table inet fwd_filter"* && $out == *"22"* ]]; then
	ok "fwd -n (chroot, unshare -n): the default policy compiles"
else
	nok "fwd -n:"
	head -n 10 <<<"$out" | indent
fi
out=$(TMPDIR=/tmp unshare -n sh -c "chroot '$root' /usr/sbin/fwd --oneshot --state-dir '' && nft list table inet fwd_filter" 2>&1)
if [[ $out == *"table inet fwd_filter"* && $out == *"chain input"* && $out == *"policy drop"* ]]; then
	ok "fwd --oneshot (chroot, unshare -n): the table is in that namespace's kernel"
else
	nok "fwd --oneshot:"
	head -n 10 <<<"$out" | indent
fi

# ---- 3. boot ------------------------------------------------------------

leader=

# boot: systemd-nspawn -b in the background, the container's PID 1 in
# $leader, multi-user reached (bounded).
boot() {
	leader=
	unshare -m --propagation private sh -c \
		'mount -t tmpfs -o mode=0755 fwd-boot /run && exec systemd-nspawn -q -D "$1" -b \
			--private-network --register=no --keep-unit -M fwdboot --console=pipe' \
		_ "$root" </dev/null >"$work/console.$1" 2>&1 &
	nspawn_pid=$!
	local i
	for i in $(seq 1 150); do
		# unshare execs sh, sh execs nspawn: $nspawn_pid is nspawn; its
		# child is the container's PID 1.
		leader=$(pgrep -P "$nspawn_pid" 2>/dev/null | head -n 1)
		[[ -n $leader ]] && inside true 2>/dev/null && break
		kill -0 "$nspawn_pid" 2>/dev/null || break
		sleep 0.2
	done
	if [[ -z $leader ]]; then
		nok "boot $1: no container (console follows)"
		indent <"$work/console.$1"
		return 1
	fi
	# PID 1 answers on its private socket a moment after it starts.
	local state
	for i in $(seq 1 450); do
		state=$(inside systemctl is-system-running 2>&1)
		[[ $state == running || $state == degraded ]] && break
		kill -0 "$nspawn_pid" 2>/dev/null || break
		sleep 0.2
	done
	if [[ $state == running || $state == degraded ]]; then
		ok "boot $1: systemd is up ($state)"
	else
		nok "boot $1: systemctl is-system-running: $state"
		inside systemctl --failed --no-pager 2>&1 | indent
	fi
}

# in CMD...: run in the container (all its namespaces), as root.
inside() { nsenter -t "$leader" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
# the table as the container's kernel holds it, with the host's nft in
# the container's network namespace only; counters taken out, and the
# what says who owns the table: the flags line, the "# progname" comment
# and blank lines (owner goes with the process that held it, persist
# stays; nft 1.0.6 prints persist as a blank "flags" and a blank line).
table() {
	nsenter -t "$leader" -n nft list table inet fwd_filter 2>/dev/null |
		sed -E -e 's/counter packets [0-9]+ bytes [0-9]+//' -e 's/ # progname .*//' \
			-e '/^\tflags/d' -e '/^$/d'
}
prop() { inside systemctl show -P "$2" "$1" 2>/dev/null; }

shutdown_container() {
	inside systemctl poweroff >/dev/null 2>&1
	local i
	for i in $(seq 1 150); do
		kill -0 "$nspawn_pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$nspawn_pid" 2>/dev/null; then
		nok "poweroff: the container did not stop in 30 s"
		kill -KILL "$nspawn_pid"
	fi
	wait "$nspawn_pid" 2>/dev/null
	nspawn_pid=
}

check_ready_order() {
	local fwd_t pre_t
	fwd_t=$(prop fwd.service ActiveEnterTimestampMonotonic)
	pre_t=$(prop network-pre.target ActiveEnterTimestampMonotonic)
	if [[ $(prop fwd.service ActiveState) == active && $fwd_t -gt 0 && $pre_t -gt 0 &&
	      $fwd_t -le $pre_t ]]; then
		ok "$1: fwd active, READY at $fwd_t us, network-pre.target at $pre_t us"
	else
		nok "$1: fwd $(prop fwd.service ActiveState) at '$fwd_t', network-pre.target at '$pre_t'"
		inside journalctl -b -u fwd --no-pager 2>&1 | tail -n 10 | indent
	fi
}

boot 1 || finish
check_ready_order "boot 1 ($prev)"
t=$(table)
if [[ $t == *"table inet fwd_filter"* && $t == *"policy drop"* && $t == *"22"* ]]; then
	ok "the table is live in the container's kernel"
else
	nok "no table in the container's kernel: $(head -n 3 <<<"$t")"
fi

# The upgrade, on the running system: postinst restarts fwd (a new main
# process), the table is there before, during and after, and the
# untouched conffile becomes the new default without a question.
pid0=$(prop fwd.service MainPID)
nsenter -t "$leader" -n nft monitor >"$work/monitor.upgrade" 2>&1 &
mon=$!
sleep 0.5
out=$(inside env DEBIAN_FRONTEND=noninteractive dpkg -i "/root/${deb##*/}" </dev/null 2>&1)
rc=$?
sleep 0.5
kill "$mon" 2>/dev/null
wait "$mon" 2>/dev/null
pid1=$(prop fwd.service MainPID)
if ((rc == 0)); then ok "upgrade $prev -> $ver (dpkg -i, booted)"; else nok "upgrade: $out"; fi
if [[ $(prop fwd.service ActiveState) == active && $pid1 != "$pid0" && $pid1 != 0 ]]; then
	ok "upgrade restarted fwd (main pid $pid0 -> $pid1)"
else
	nok "upgrade: fwd $(prop fwd.service ActiveState), main pid $pid0 -> $pid1"
fi
# A table deleted outside one transaction shows as "delete table" with no
# "add table" in the same batch; fwd's replace always has both.
if grep -q 'delete table inet fwd_filter' "$work/monitor.upgrade" &&
   ! grep -q 'add table inet fwd_filter' "$work/monitor.upgrade"; then
	nok "upgrade: the table was deleted and not re-created"
	indent <"$work/monitor.upgrade"
elif [[ $(table) == *"policy drop"* ]]; then
	ok "upgrade: the table stayed (nft monitor: no delete without re-create)"
else
	nok "upgrade: no table after the upgrade"
fi
if cmp -s "$root/etc/fwd/fwd.conf" "$src/etc/fwd.conf" && [[ ! -e $root/etc/fwd/fwd.conf.dpkg-dist ]]; then
	ok "upgrade: the untouched conffile is the new default"
else
	nok "upgrade: /etc/fwd/fwd.conf is not the new default"
fi

# An edited conffile is kept when the package is installed again.
cat >>"$root/etc/fwd/fwd.conf" <<'EOF'

[service web]
ports = 80/tcp
allow = 198.51.100.0/24
EOF
cp "$root/etc/fwd/fwd.conf" "$work/edited.conf"
if out=$(inside env DEBIAN_FRONTEND=noninteractive dpkg -i "/root/${deb##*/}" </dev/null 2>&1) &&
   cmp -s "$root/etc/fwd/fwd.conf" "$work/edited.conf"; then
	ok "reinstall: the edited conffile is kept, no question asked"
else
	nok "reinstall with an edited conffile:"
	indent <<<"$out"
fi

# systemctl reload: ExecReload is fwctl reload.
if out=$(inside systemctl reload fwd 2>&1) && [[ $(table) == *"198.51.100.0/24 . tcp . 80"* ]]; then
	ok "systemctl reload fwd: the edited policy is live (80/tcp from 198.51.100.0/24)"
else
	nok "systemctl reload fwd: $out"
	table | grep -n 198.51 | indent
fi
good=$(table)
cp "$root/etc/fwd/fwd.conf" "$work/good.conf"
printf '\n[service broken]\nports = 99999/tcp\n' >>"$root/etc/fwd/fwd.conf"
line=$(wc -l <"$root/etc/fwd/fwd.conf")
if out=$(inside systemctl reload fwd 2>&1); then
	nok "systemctl reload fwd with a broken policy succeeded"
else
	ok "systemctl reload fwd with a broken policy fails: $(head -n 1 <<<"$out")"
fi
st=$(inside systemctl status fwd --no-pager -n 20 2>&1)
if grep -q "fwd.conf:$line:" <<<"$st"; then
	ok "systemctl status fwd says why: $(grep -o "fwd.conf:$line:.*" <<<"$st" | head -n 1)"
else
	nok "systemctl status fwd does not name fwd.conf:$line:"
	indent <<<"$st"
fi
if [[ $(table) == "$good" && $(prop fwd.service ActiveState) == active ]]; then
	ok "after the failed reload: the running rules unchanged, fwd active"
else
	nok "after the failed reload the table changed, or fwd is $(prop fwd.service ActiveState)"
fi
cp "$work/good.conf" "$root/etc/fwd/fwd.conf"

# Every fwctl command, with its default socket, as root in the
# container, against the hardened service.
fwctl_ok() {
	local out
	if out=$(inside fwctl "$@" 2>&1); then
		ok "fwctl $*"
	else
		nok "fwctl $* (exit $?):"
		head -n 5 <<<"$out" | indent
	fi
	last=$out
}
fwctl_ok version
fwctl_ok help
fwctl_ok status
fwctl_ok --json status
fwctl_ok show
fwctl_ok show --nft
fwctl_ok allow 8080/tcp from 192.0.2.5
[[ $(table) == *"192.0.2.5 . tcp . 8080"* ]] && ok "allow: in the kernel" || nok "allow: not in the kernel"
[[ -s $root/etc/fwd/conf.d/99-fwctl.conf ]] && ok "allow: persisted in conf.d/99-fwctl.conf" ||
	nok "allow: conf.d/99-fwctl.conf not written"
fwctl_ok explain 192.0.2.5 8080/tcp
fwctl_ok remove 8080/tcp from 192.0.2.5 --kill-states
[[ $(table) != *"192.0.2.5 . tcp . 8080"* ]] && ok "remove: gone from the kernel" || nok "remove: still inside the kernel"
fwctl_ok allow 8081/tcp --runtime
fwctl_ok deny 25/tcp to 203.0.113.25
fwctl_ok remove 25/tcp to 203.0.113.25
fwctl_ok block 203.0.113.7 for 1h
[[ $(table) == *"203.0.113.7"* ]] && ok "block: in the kernel" || nok "block: not in the kernel"
fwctl_ok list blocked
fwctl_ok unblock 203.0.113.7
fwctl_ok list add office 198.51.100.9
fwctl_ok list show
fwctl_ok list show office
fwctl_ok list del office 198.51.100.9
fwctl_ok stats
fwctl_ok diff
fwctl_ok doctor
fwctl_ok check
fwctl_ok check /etc/fwd/fwd.conf
fwctl_ok reload
fwctl_ok reload --confirm 60
fwctl_ok confirm
fwctl_ok disable --yes
[[ $(table) != *"table inet fwd_filter"* ]] && ok "disable: no table" || nok "disable: the table is still there"
fwctl_ok enable
[[ $(table) == *"policy drop"* ]] && ok "enable: the table is back" || nok "enable: no table"
fwctl_ok remove 8081/tcp --runtime
if [[ $(table) == "$good" ]]; then
	ok "after the fwctl commands: the table is the policy's again"
else
	nok "after the fwctl commands the table is not the policy's:"
	diff <(echo "$good") <(table) | indent
fi

# kill -9: the table stays while fwd is down, systemd restarts it.
pid0=$(prop fwd.service MainPID)
inside systemctl kill --kill-who=main -s SIGKILL fwd
down=$(table)
# Where systemd was when the table was read (auto-restart: fwd was down,
# RestartSec=1s), said in the result rather than asserted: it is timing.
down_state=$(prop fwd.service SubState)
for _ in $(seq 1 100); do
	pid1=$(prop fwd.service MainPID)
	[[ $(prop fwd.service ActiveState) == active && $pid1 != 0 && $pid1 != "$pid0" ]] && break
	sleep 0.1
done
if [[ $down == "$good" ]]; then
	ok "kill -9: the table is there, unchanged, while fwd is down (unit: $down_state)"
else
	nok "kill -9: the table while fwd is down is not the running one:"
	diff <(echo "$good") <(echo "$down") | head -n 20 | indent
fi
if [[ $(prop fwd.service ActiveState) == active && $pid1 != "$pid0" && $(table) == "$good" ]]; then
	ok "kill -9: restarted (main pid $pid0 -> $pid1), the same table"
else
	nok "kill -9: fwd $(prop fwd.service ActiveState), main pid $pid0 -> $pid1"
fi

# stop leaves the rules.
inside systemctl stop fwd
if [[ $(prop fwd.service ActiveState) == inactive && $(table) == "$good" ]]; then
	ok "systemctl stop fwd: stopped, the rules stay in the kernel"
else
	nok "systemctl stop fwd: $(prop fwd.service ActiveState); the table against the running one:"
	diff <(echo "$good") <(table) | head -n 20 | indent
fi
inside systemctl start fwd

# ---- 4. a broken policy at boot, then remove and purge ------------------

echo 'inbound = sideways' >>"$root/etc/fwd/fwd.conf"
shutdown_container
boot 2 || finish
check_ready_order "boot 2 (broken policy)"
if [[ $(table) == "$good" ]]; then
	ok "boot with a broken policy: the last good policy is live"
else
	nok "boot with a broken policy: not the last good table:"
	table | head -n 20 | indent
fi
st=$(inside fwctl status 2>&1)
if grep -qi 'last good' <<<"$st"; then
	ok "fwctl status says: $(grep -i 'last good' <<<"$st" | head -n 1)"
else
	nok "fwctl status does not mention the last good policy:"
	indent <<<"$st"
fi

out=$(inside env DEBIAN_FRONTEND=noninteractive dpkg -r fwd </dev/null 2>&1) || nok "dpkg -r fwd: $out"
if [[ $(prop fwd.service ActiveState) != active && $(table) == "$good" ]]; then
	ok "dpkg -r: fwd stopped, its rules stay in the kernel"
else
	nok "dpkg -r: fwd $(prop fwd.service ActiveState); the table against the last good one:"
	diff <(echo "$good") <(table) | head -n 20 | indent
fi
if [[ ! -e $root/usr/sbin/fwd && ! -e $root/usr/sbin/fwctl && -f $root/etc/fwd/fwd.conf &&
      -d $root/var/lib/fwd ]]; then
	ok "dpkg -r: programs gone; conffile and state dir kept"
else
	nok "dpkg -r: $(ls -d "$root"/usr/sbin/fw* "$root"/etc/fwd/fwd.conf "$root"/var/lib/fwd 2>&1 | tr '\n' ' ')"
fi
out=$(inside env DEBIAN_FRONTEND=noninteractive dpkg -P fwd </dev/null 2>&1) || nok "dpkg -P fwd: $out"
if [[ ! -e $root/etc/fwd && ! -e $root/var/lib/fwd ]] &&
   ! inside dpkg-query -W fwd >/dev/null 2>&1; then
	ok "dpkg -P: /etc/fwd and /var/lib/fwd gone"
else
	nok "dpkg -P: left $(find "$root/etc/fwd" "$root/var/lib/fwd" 2>/dev/null | tr '\n' ' ')"
fi
shutdown_container
finish
