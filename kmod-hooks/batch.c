// SPDX-License-Identifier: GPL-2.0-or-later
/* placeholder until the module lands */
typedef int fwd_placeholder_t;
