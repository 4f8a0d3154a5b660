#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# install-test.sh [--no-rebuild] BUILDDIR
#
# `meson install --destdir` from BUILDDIR into a temporary directory, then
# check what landed there: every expected file, the systemd unit
# (`systemd-analyze verify`, with ExecStart pointed into the DESTDIR and
# MANPATH at its man pages so the Documentation= links resolve), the bash
# completion of fwctl and fwd, and that each man page renders without a
# groff warning. The last line is "N passed, N failed"; the exit status is
# non-zero if anything failed.
#
# When the full install fails (a build that does not link), the man pages
# and completions are still installed by their install tags and checked,
# and the unit is verified from BUILDDIR with a stand-in ExecStart, so one
# run says as much as it can; the run still fails.
set -u

no_rebuild=
if [[ ${1-} == --no-rebuild ]]; then
	no_rebuild=--no-rebuild
	shift
fi
if (($# != 1)) || [[ ! -d $1/meson-info ]]; then
	echo "usage: $0 [--no-rebuild] BUILDDIR (a configured meson build directory)" >&2
	exit 2
fi
build=$(cd "$1" && pwd)

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
nok() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() {
	echo "$pass passed, $fail failed"
	((fail == 0))
	exit
}

dest=$(mktemp -d "${TMPDIR:-/tmp}/fwd-install.XXXXXX") || exit 1
log=$(mktemp "${TMPDIR:-/tmp}/fwd-install-log.XXXXXX") || exit 1
trap 'rm -rf "$dest" "$log"' EXIT

# ---- install ------------------------------------------------------------

full=true
if meson install -C "$build" --destdir "$dest" $no_rebuild >"$log" 2>&1; then
	ok "meson install --destdir"
else
	full=false
	nok "meson install --destdir (last lines of its output follow)"
	tail -n 15 "$log" | sed 's/^/     | /'
	if meson install -C "$build" --destdir "$dest" --no-rebuild \
		--tags man,bash-completion >"$log" 2>&1; then
		echo "     installed only the man pages and completions (install tags) to check them"
	else
		echo "     even the tagged install failed:"
		tail -n 5 "$log" | sed 's/^/     | /'
	fi
fi

# ---- where things go: the build's own directory options -----------------

dirs=$(meson introspect --buildoptions "$build" | python3 -c '
import json, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
prefix = opts["prefix"]
for name in ("sbindir", "datadir", "mandir", "sysconfdir"):
    v = opts[name]
    print(name, v if v.startswith("/") else prefix.rstrip("/") + "/" + v)
print("prefix", prefix)
') || { nok "meson introspect --buildoptions"; finish; }
prefix='' sbindir='' datadir='' mandir='' sysconfdir=''
while read -r name value; do
	printf -v "$name" '%s' "$value"
done <<<"$dirs"
unitdir=${prefix%/}/lib/systemd/system
compdir=$datadir/bash-completion/completions

# ---- every expected file ------------------------------------------------

for f in "$sbindir/fwd" "$sbindir/fwctl"; do
	if [[ -f $dest$f && -x $dest$f ]]; then ok "installed $f"; else nok "installed $f (executable)"; fi
done
for f in "$unitdir/fwd.service" "$datadir/doc/fwd/fwd.conf.example" \
	"$mandir/man8/fwd.8" "$mandir/man8/fwctl.8" "$mandir/man5/fwd.conf.5" \
	"$compdir/fwctl" "$compdir/fwd"; do
	if [[ -f $dest$f && -s $dest$f ]]; then ok "installed $f"; else nok "installed $f"; fi
done
if [[ -d $dest$sysconfdir/fwd/conf.d ]]; then
	ok "installed $sysconfdir/fwd/conf.d/"
else
	nok "installed $sysconfdir/fwd/conf.d/ (directory)"
fi

# ---- the systemd unit ---------------------------------------------------

unit=$dest$unitdir/fwd.service
exe=$dest$sbindir/fwd
note=
if [[ ! -f $unit ]]; then
	unit=$build/fwd.service
	note=" (BUILDDIR's unit: none was installed)"
fi
if [[ ! -x $exe ]]; then
	exe=$(command -v true)
	note="$note (ExecStart on a stand-in: fwd was not installed)"
fi
if [[ ! -f $unit ]]; then
	nok "systemd unit: no fwd.service installed or in $build"
else
	if grep -q '@[a-z_]*@' "$unit"; then
		nok "unit has unsubstituted @...@: $(grep -o '@[a-z_]*@' "$unit" | sort -u | tr '\n' ' ')"
	else
		ok "unit: every @...@ substituted"
	fi
	if grep -q "^ExecStart=$sbindir/fwd " "$unit"; then
		ok "unit: ExecStart=$sbindir/fwd"
	else
		nok "unit: ExecStart is not $sbindir/fwd: $(grep '^ExecStart=' "$unit")"
	fi
	if ! command -v systemd-analyze >/dev/null; then
		nok "systemd-analyze verify: systemd-analyze missing (Debian package: systemd)"
	else
		vdir=$(mktemp -d "$dest/verify.XXXXXX")
		# ExecReload is fwctl reload: pointed into the DESTDIR too.
		ctlexe=$dest$sbindir/fwctl
		[[ -x $ctlexe ]] || ctlexe=$exe
		sed -e "s|^ExecStart=$sbindir/fwd |ExecStart=$exe |" \
			-e "s|^ExecReload=$sbindir/fwctl |ExecReload=$ctlexe |" "$unit" >"$vdir/fwd.service"
		if out=$(MANPATH=$dest$mandir SYSTEMD_LOG_COLOR=0 \
			systemd-analyze verify "$vdir/fwd.service" 2>&1) && [[ -z $out ]]; then
			ok "systemd-analyze verify fwd.service$note"
		else
			nok "systemd-analyze verify fwd.service$note:"
			printf '%s\n' "$out" | sed 's/^/     | /'
		fi
	fi
fi

# ---- man pages ----------------------------------------------------------

for page in man8/fwd.8 man8/fwctl.8 man5/fwd.conf.5; do
	f=$dest$mandir/$page
	[[ -f $f ]] || continue		# reported missing above
	if ! command -v groff >/dev/null || ! command -v man >/dev/null; then
		nok "render $page: groff or man missing (Debian packages: groff-base, man-db)"
		continue
	fi
	warn=$(groff -man -Tutf8 -ww -z "$f" 2>&1)
	if [[ -z $warn ]]; then
		ok "groff -ww $page: no warnings"
	else
		nok "groff -ww $page:"
		printf '%s\n' "$warn" | sed 's/^/     | /'
	fi
	text=$(MANWIDTH=80 man -l "$f" 2>&1)
	name=${page##*/}
	name=${name%.*}
	if [[ $text == *NAME*"$name "* && $text == *SYNOPSIS* && $text == *"SEE ALSO"* ]]; then
		ok "man -l $page renders (NAME, SYNOPSIS, SEE ALSO)"
	else
		nok "man -l $page does not render as expected:"
		printf '%s\n' "$text" | head -n 10 | sed 's/^/     | /'
	fi
done

# ---- bash completion ----------------------------------------------------

# complete SCRIPT FUNCTION 'COMMAND LINE' -> the candidates, one a line.
# A trailing space in the line means a new, empty word is being completed;
# "=" is a word of its own, as bash splits it (COMP_WORDBREAKS).
complete_line() {
	bash --norc --noprofile -c '
		source "$1" || exit 1
		read -ra COMP_WORDS <<<"${3//=/ = }"
		[[ $3 == *[\ =] ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE=$3
		COMP_POINT=${#3}
		"$2" || exit 1
		((${#COMPREPLY[@]})) && printf "%s\n" "${COMPREPLY[@]}"
		exit 0' _ "$@"
}

# expect SCRIPT FUNCTION 'LINE' 'EXPECTED CANDIDATES' (space separated,
# in order; "" for none).
expect() {
	local got want
	got=$(complete_line "$1" "$2" "$3" | tr '\n' ' ')
	got=${got% }
	want=$4
	if [[ $got == "$want" ]]; then
		ok "complete '$3' -> ${want:-(nothing)}"
	else
		nok "complete '$3': want '${want}', got '${got}'"
	fi
}

fwctl_comp=$dest$compdir/fwctl
fwd_comp=$dest$compdir/fwd
if [[ -f $fwctl_comp ]] && ! $full; then
	echo "     (completion checks on the copies installed by tag)"
fi
if [[ -f $fwctl_comp ]]; then
	if out=$(bash --norc --noprofile -c 'source "$1" && complete -p fwctl' _ "$fwctl_comp" 2>&1) &&
	   [[ $out == *"-F _fwctl fwctl"* ]]; then
		ok "fwctl completion registers _fwctl"
	else
		nok "fwctl completion does not register: $out"
	fi
	c=$fwctl_comp
	expect "$c" _fwctl 'fwctl li' 'list'
	expect "$c" _fwctl 'fwctl st' 'status stats'
	expect "$c" _fwctl 'fwctl ' 'status show allow deny remove block unblock list log reload confirm diff explain stats audit disable enable doctor check import help version'
	expect "$c" _fwctl 'fwctl import ' 'ufw iptables firewalld'
	expect "$c" _fwctl 'fwctl audit --' '--save-baseline --diff --json'
	expect "$c" _fwctl 'fwctl --j' '--json'
	expect "$c" _fwctl 'fwctl -S /run/fwd/fwd.sock sh' 'show'
	expect "$c" _fwctl 'fwctl --socket=/run/fwd/fwd.sock sh' 'show'
	expect "$c" _fwctl 'fwctl --json list ' 'add del show blocked'
	expect "$c" _fwctl 'fwctl list b' 'blocked'
	expect "$c" _fwctl 'fwctl list add office 192.0.2.9 --' '--runtime'
	expect "$c" _fwctl 'fwctl list del office -' '- --runtime --force'
	expect "$c" _fwctl 'fwctl list show --' '--json'
	expect "$c" _fwctl 'fwctl allow ' '22/tcp 80/tcp 443/tcp 53/udp'
	expect "$c" _fwctl 'fwctl deny 4' '443/tcp'
	expect "$c" _fwctl 'fwctl allow 22/tcp, ' '22/tcp 80/tcp 443/tcp 53/udp'
	expect "$c" _fwctl 'fwctl allow 22/tcp ' 'from to on limit for'
	expect "$c" _fwctl 'fwctl deny 22/tcp ' 'from to for'
	expect "$c" _fwctl 'fwctl allow 22/tcp from any on lo' 'lo'
	expect "$c" _fwctl 'fwctl allow 22/tcp limit ' '6/30s 10/1m 100/1h'
	expect "$c" _fwctl 'fwctl allow 22/tcp from a' 'any'
	expect "$c" _fwctl 'fwctl allow 22/tcp from ' ''
	expect "$c" _fwctl 'fwctl allow 22/tcp --' '--runtime --force'
	expect "$c" _fwctl 'fwctl remove 22/tcp ' 'from to on limit'
	expect "$c" _fwctl 'fwctl remove 22/tcp from 192.0.2.9 --k' '--kill-states'
	expect "$c" _fwctl 'fwctl block 192.0.2.9 f' 'for'
	expect "$c" _fwctl 'fwctl show --' '--nft --json'
	expect "$c" _fwctl 'fwctl reload --' '--confirm --force'
	expect "$c" _fwctl 'fwctl reload --confirm ' ''
	expect "$c" _fwctl 'fwctl reload --confirm=60 --f' '--force'
	expect "$c" _fwctl 'fwctl explain ' ''
	expect "$c" _fwctl 'fwctl explain 192.0.2.9 ' '22/tcp 80/tcp 443/tcp 53/udp'
	expect "$c" _fwctl 'fwctl explain 192.0.2.9 22/tcp ' ''
	expect "$c" _fwctl 'fwctl block 192.0.2.9 --' '--runtime --force --yes'
	expect "$c" _fwctl 'fwctl remove 22/tcp --' '--allow --deny --generation --kill-states --force --yes'
	expect "$c" _fwctl 'fwctl unblock ' ''
	expect "$c" _fwctl 'fwctl help ex' 'explain'
	expect "$c" _fwctl 'fwctl help list ' 'add del show blocked'
	# check completes file names.
	mkdir -p "$dest/comp/policy.d"
	: >"$dest/comp/policy-a.conf"
	: >"$dest/comp/policy-b.conf"
	expect "$c" _fwctl "fwctl check $dest/comp/policy-" "$dest/comp/policy-a.conf $dest/comp/policy-b.conf"
	expect "$c" _fwctl "fwctl check $dest/comp/policy." "$dest/comp/policy.d"
	expect "$c" _fwctl "fwctl --socket=$dest/comp/policy-b" "$dest/comp/policy-b.conf"
else
	nok "fwctl completion: nothing installed to check"
fi
if [[ -f $fwd_comp ]]; then
	if out=$(bash --norc --noprofile -c 'source "$1" && complete -p fwd' _ "$fwd_comp" 2>&1) &&
	   [[ $out == *"-F _fwd fwd"* ]]; then
		ok "fwd completion registers _fwd"
	else
		nok "fwd completion does not register: $out"
	fi
	c=$fwd_comp
	expect "$c" _fwd 'fwd --' '--config --oneshot --dry-run --probe --json --socket --no-socket --state-dir --print-default --version --help'
	expect "$c" _fwd 'fwd --p' '--probe --print-default'
	expect "$c" _fwd 'fwd --no' '--no-socket'
	expect "$c" _fwd "fwd -c $dest/comp/policy-a" "$dest/comp/policy-a.conf"
	expect "$c" _fwd "fwd --config=$dest/comp/policy-a" "$dest/comp/policy-a.conf"
	expect "$c" _fwd "fwd --state-dir $dest/comp/policy" "$dest/comp/policy.d"
else
	nok "fwd completion: nothing installed to check"
fi

finish
