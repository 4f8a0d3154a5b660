// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The policy used when no policy file exists. It is kept as INI text and
 * parsed like any file, so `fwd --print-default` shows exactly what runs
 * and the text cannot drift from the model.
 */
#include "policy.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

const char fwd_policy_builtin_text[] =
	"; fwd built-in policy, used when no policy file exists:\n"
	"; everything inbound is dropped except SSH, outbound is open.\n"
	"[defaults]\n"
	"inbound  = deny\n"
	"outbound = allow\n"
	"log      = denied\n"
	"icmp     = essential\n"
	"\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = any\n";

int fwd_policy_builtin(struct fwd_policy **out)
{
	/* No services file (the text uses numbers) and no list files: the
	 * result must not depend on anything on disk. */
	const struct fwd_load_opts opts = {
		.services_path = "/dev/null",
		.confd_path = "",
	};
	struct fwd_policy *p;
	int ret;

	ret = fwd_policy_load_buffer("<built-in>", fwd_policy_builtin_text,
				     strlen(fwd_policy_builtin_text), &opts,
				     out, NULL);
	if (ret)
		return ret;
	/* Locations keep their line in the text above; file NULL says
	 * "built-in" (policy.h). */
	p = *out;
	for (size_t i = 0; i < p->nlists; i++) {
		p->lists[i].loc.file = NULL;
		for (size_t j = 0; j < p->lists[i].n; j++)
			p->lists[i].locs[j].file = NULL;
	}
	for (size_t i = 0; i < p->nservices; i++) {
		struct fwd_service *s = &p->services[i];

		s->loc.file = NULL;
		for (size_t j = 0; j < s->nports; j++)
			s->ports[j].loc.file = NULL;
		for (size_t j = 0; j < s->nallow; j++)
			s->allow[j].loc.file = NULL;
	}
	for (size_t i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	free(p->files);
	p->files = NULL;
	p->nfiles = 0;
	return 0;
}
