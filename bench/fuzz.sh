#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run every libFuzzer target for a set time (SECONDS each, default 60) from
# its seed corpus. New inputs go to bench/out/fuzz-corpus/<target> (not
# committed); a crash leaves crash-* files in bench/out/fuzz and makes this
# script exit 1. Whatever a run finds becomes a fixture / regression test.
#   sudo sh bench/fuzz.sh            # 60 s per target
#   SECONDS_EACH=600 sh bench/fuzz.sh
set -eu
cd "$(dirname "$0")/.."
each=${SECONDS_EACH:-60}
out=bench/out/fuzz
mkdir -p "$out"

if ! command -v clang >/dev/null 2>&1 || ! [ -d /usr/lib/llvm-14/lib/clang ]; then
	if [ "$(id -u)" -eq 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
	else
		echo "fuzz.sh: needs clang and libclang-rt-14-dev" >&2
		exit 1
	fi
fi
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true >/dev/null
fi
ninja -C build-fuzz tests/fuzz/fuzz-policy tests/fuzz/fuzz-listfile tests/fuzz/fuzz-listcache \
	tests/fuzz/fuzz-edit tests/fuzz/fuzz-proto tests/fuzz/fuzz-guard tests/fuzz/fuzz-queue \
	tests/fuzz/fuzz-import >/dev/null

status=0
for t in policy listfile listcache edit proto guard queue import; do
	dict=""
	case $t in
	policy|listfile|listcache) dict="-dict=tests/fuzz/policy.dict" ;;
	edit) dict="-dict=tests/fuzz/edit.dict" ;;
	import) dict="-dict=tests/fuzz/import.dict" ;;
	esac
	mkdir -p "bench/out/fuzz-corpus/$t"
	printf '%-10s %4ss ... ' "$t" "$each"
	if build-fuzz/tests/fuzz/fuzz-$t $dict -max_total_time="$each" \
		-artifact_prefix="$out/$t-" -print_final_stats=1 \
		"bench/out/fuzz-corpus/$t" "tests/fuzz/corpus/$t" \
		>"$out/$t.log" 2>&1; then
		grep -E 'stat::number_of_executed_units' "$out/$t.log" |
			awk '{ printf "%s runs, no crash\n", $2 }'
	else
		echo "CRASH: see $out/$t.log and $out/$t-crash-*"
		status=1
	fi
done
exit $status
