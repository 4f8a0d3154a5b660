#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run suites (default: the unit suites) under valgrind's memcheck; any
# error or definite leak fails the test. libcheck forks each test: children
# are traced too.
#   sh scripts/valgrind.sh                  # unit suites
#   sh scripts/valgrind.sh --suite root     # kernel/e2e suites (slow)
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
sh scripts/build.sh build >/dev/null
[ $# -gt 0 ] || set -- --suite unit
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-10}
meson test -C build --print-errorlogs --timeout-multiplier 10 \
	--wrap='valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --trace-children=yes --trace-children-skip=/usr/bin/*,/usr/sbin/*,/bin/*,/sbin/* --quiet' "$@"
