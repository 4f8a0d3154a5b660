/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWCTL_IMPORT_CMD_H
#define FWCTL_IMPORT_CMD_H

#include <stdbool.h>

/*
 * `fwctl import TOOL [FILE...|-] [options]` (argv[0] is "import"); force is
 * fwctl's --force given before the command word. Returns fwctl's exit
 * code: 0 everything imported, 1 something was not (listed on stderr as
 * FILE:LINE: not imported: ...) or the import failed, 2 usage.
 */
int fwctl_import(int argc, char **argv, bool force);

#endif
