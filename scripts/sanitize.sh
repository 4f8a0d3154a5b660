#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan
# and run the suites given (default: every suite) there. The root suites
# start build-asan's own fwd and fwctl, so the daemon runs instrumented too.
#   sh scripts/sanitize.sh                 # everything
#   sh scripts/sanitize.sh --suite unit    # unit suites only
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false \
	-Dbuildtype=debug >/dev/null
# Any UBSan report is an error; leaks are errors too (detect_leaks).
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
# Instrumented code is slower: check's own per-test timeouts scale too.
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-4}
meson test -C build-asan --print-errorlogs --timeout-multiplier 4 "$@"
