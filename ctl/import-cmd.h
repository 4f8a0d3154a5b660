/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWCTL_IMPORT_CMD_H
#define FWCTL_IMPORT_CMD_H

#include <stdbool.h>

/*
 * `fwctl import TOOL [FILE...|-] [options]` (argv[0] is "import"); force
 * and json are fwctl's --force (before the command word) and --json
 * (anywhere). Returns fwctl's exit code: 0 everything imported, 1 something
 * was not (listed on stderr as FILE:LINE: not imported: ..., or in the
 * JSON) or the import failed, 2 usage.
 */
int fwctl_import(int argc, char **argv, bool force, bool json);

#endif
