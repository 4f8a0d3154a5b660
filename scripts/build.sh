#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Configure (once) and build into ./build (or $1).
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
shift 2>/dev/null || true
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir"
