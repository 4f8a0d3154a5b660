// SPDX-License-Identifier: GPL-2.0-or-later
/* placeholder until the suite lands */
#include "testutil.h"
int main(void) { return 1; }
