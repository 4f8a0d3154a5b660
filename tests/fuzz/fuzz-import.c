// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for `fwctl import`'s parsers (policy/import-*.c): text
 * another firewall wrote, which fwctl reads as root. The first byte picks
 * the parser (iptables-save, ufw, firewalld zone XML; the firewalld
 * service lookup answers from a fixed set, one of which includes itself).
 * Checks: every message one printable line with a line number within the
 * input, and the rendered policy passes the policy checker (`fwctl check`'s
 * loader) whole: whatever the input, import writes a valid policy.
 */
#include "import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz-import: invariant broken: %s\n", what);
		abort();
	}
}

static char *service(void *arg, const char *name, size_t *len, char **path)
{
	static const struct { const char *name, *xml; } svcs[] = {
		{ "ssh", "<service><port protocol=\"tcp\" port=\"22\"/></service>" },
		{ "dns", "<service><port protocol=\"tcp\" port=\"53\"/>"
			 "<port protocol=\"udp\" port=\"53\"/></service>" },
		{ "loop", "<service><include service=\"loop\"/></service>" },
		{ "dst", "<service><port protocol=\"udp\" port=\"546\"/>"
			 "<destination ipv6=\"fe80::/64\"/></service>" },
	};

	(void)arg;
	for (size_t i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++) {
		if (!strcmp(svcs[i].name, name)) {
			*len = strlen(svcs[i].xml);
			*path = strdup(svcs[i].name);
			return strdup(svcs[i].xml);
		}
	}
	return NULL;
}

static void check_diags(const struct fwd_diags *d, unsigned lines)
{
	for (size_t i = 0; i < d->n; i++) {
		check(d->v[i].line <= lines, "diag line within the input");
		for (const char *c = d->v[i].msg; *c; c++)
			check((unsigned char)*c >= 0x20 && *c != 0x7f, "printable message");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fwd_load_opts lo = { .confd_path = "", .services_path = "/dev/null" };
	struct fwd_import_render_opts ro = { .defaults = true, .source = "fuzz" };
	struct fwd_import imp;
	struct fwd_policy *p = NULL;
	struct fwd_diags d;
	unsigned lines = 1;
	const char *text;
	char *out;
	int ret;

	if (size < 1)
		return 0;
	text = (const char *)data + 1;
	/* Lines as each parser counts them: XML (expat) also ends a line at a
	 * CR that no LF follows. */
	for (size_t i = 1; i < size; i++)
		lines += data[i] == '\n' || (data[0] % 3 == 2 && data[i] == '\r' &&
					      (i + 1 == size || data[i + 1] != '\n'));
	fwd_import_init(&imp, data[0] % 3 == 0 ? "iptables" : data[0] % 3 == 1 ?
			"ufw" : "firewalld");
	if (data[0] % 3 == 0)
		fwd_import_iptables(&imp, "in", text, size - 1);
	else if (data[0] % 3 == 1)
		fwd_import_ufw(&imp, "in", text, size - 1);
	else
		fwd_import_firewalld(&imp, "in", text, size - 1, service, NULL);
	out = fwd_import_render(&imp, &ro);
	check_diags(&imp.skipped, lines);
	check_diags(&imp.notes, lines);
	fwd_diags_init(&d);
	ret = fwd_policy_load_buffer("out", out, strlen(out), &lo, &p, &d);
	if (ret != 0) {
		fprintf(stderr, "%s\n", out);
		fwd_diags_print(&d, stderr);
	}
	check(ret == 0, "the rendered policy loads");
	fwd_policy_free(p);
	fwd_diags_free(&d);
	free(out);
	fwd_import_free(&imp);
	return 0;
}
