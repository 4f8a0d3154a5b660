#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Quick start, command 2: install what is needed, build, run the whole suite.
# Root is needed for the kernel and end-to-end suites (each runs in network
# namespaces it creates; the host's own firewall is never touched).
# Then the unit suites, the control socket and the daemon end to end again,
# built with ASan + UBSan (FWD_NO_SANITIZE=1 skips that part).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh build
# -v: every suite's own closing line (libcheck's "Checks: N, Failures: 0")
# is printed, not only meson's summary.
meson test -C build --print-errorlogs -v "$@"
if [ $# -eq 0 ] && [ "${FWD_NO_SANITIZE:-0}" != 1 ]; then
	echo "== the same under AddressSanitizer + UndefinedBehaviorSanitizer"
	sh scripts/sanitize.sh --suite unit
	# The daemon and fwctl instrumented, driven end to end. Leak checks
	# stay on for the unit suites only: forked test children and killed
	# daemons exit without freeing by design.
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 CK_TIMEOUT_MULTIPLIER=3 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-asan --print-errorlogs --timeout-multiplier 2 control e2e
fi
