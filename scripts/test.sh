#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Quick start, command 2: install what is needed, build, run the whole suite.
# Root is needed for the kernel and end-to-end suites (each runs in network
# namespaces it creates; the host's own firewall is never touched).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh build
# -v: every suite's own closing line (libcheck's "Checks: N, Failures: 0")
# is printed, not only meson's summary.
meson test -C build --print-errorlogs -v "$@"
