// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The policy used when no policy file exists. It is kept as INI text and
 * parsed like any file, so `fwd --print-default` shows exactly what runs
 * and the text cannot drift from the model. Also the lockdown model, for
 * when the files exist but cannot be used.
 */
#include "edit.h"
#include "policy.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
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
	p->defaults_loc.file = p->inbound_loc.file = p->outbound_loc.file = NULL;
	p->log_loc.file = p->icmp_loc.file = p->counters_loc.file = NULL;
	for (size_t i = 0; i < p->nrescue; i++)
		p->rescue_locs[i].file = NULL;
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
	for (size_t i = 0; i < p->nedits; i++)
		p->edits[i].loc.file = p->edits[i].ports.loc.file = NULL;
	for (size_t i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	free(p->files);
	p->files = NULL;
	p->nfiles = 0;
	return 0;
}

/* ---- lockdown ---- */

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The rescue words of one line (value or continuation): addresses and
 * CIDRs; anything else, and an inline comment, ends or is skipped. */
static void rescue_words(struct fwd_policy *p, size_t *cap, const char *s,
			 const char *e, const char *file, unsigned line)
{
	struct fwd_addr a;

	while (s < e) {
		const char *w;

		while (s < e && (blank(*s) || *s == ','))
			s++;
		if (s == e || *s == ';' || *s == '#')
			return;
		w = s;
		while (s < e && !blank(*s) && *s != ',')
			s++;
		/* A /0 is "any": not a lockdown, so not taken (as the
		 * parser refuses it). */
		if (fwd_addr_parsen(w, (size_t)(s - w), &a, NULL, 0) != 0 ||
		    a.prefix == 0)
			continue;
		if (p->nrescue == *cap) {
			size_t c = *cap;

			FWD_GROW(p->rescue, c, p->nrescue + 1);
			p->rescue_locs = fwd_xreallocarray(p->rescue_locs, c,
							   sizeof(*p->rescue_locs));
			*cap = c;
		}
		p->rescue_locs[p->nrescue] = (struct fwd_loc){ file, line };
		p->rescue[p->nrescue++] = a;
	}
}

/*
 * `rescue =` in [defaults], with its indented continuation lines, read as
 * leniently as possible: the file is broken (that is why fwd is locking
 * down), and every source that can still be read may be the one that
 * lets an administrator in to fix it.
 */
static void scan_rescue(struct fwd_policy *p, const char *file,
			const char *buf, size_t len)
{
	const char *s = buf, *end = buf + len;
	bool in_defaults = false, in_rescue = false;
	unsigned line = 0;
	size_t cap = 0;

	if (len >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
		s += 3;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end, *t = s, *k;

		line++;
		if (e > s && e[-1] == '\r')
			e--;
		while (t < e && blank(*t))
			t++;
		if (t == e || *t == ';' || *t == '#') {
			/* A blank or comment line ends a value (the parser
			 * refuses an indented line after one): what follows
			 * is not a rescue source. */
			in_rescue = false;
		} else if (*t == '[') {
			const char *r = memchr(t, ']', (size_t)(e - t));
			const char *n = t + 1;

			while (n < e && blank(*n))
				n++;
			if (!r)
				r = e;
			while (r > n && blank(r[-1]))
				r--;
			in_defaults = r - n == 8 && !memcmp(n, "defaults", 8);
			in_rescue = false;
		} else if (t > s && in_rescue) {
			rescue_words(p, &cap, t, e, file, line);
		} else {
			in_rescue = false;
			for (k = t; k < e && *k != '=' && !blank(*k); k++)
				;
			if (in_defaults && k - t == 6 && !memcmp(t, "rescue", 6)) {
				while (k < e && blank(*k))
					k++;
				if (k < e && *k == '=') {
					in_rescue = true;
					rescue_words(p, &cap, k + 1, e, file, line);
				}
			}
		}
		s = nl ? nl + 1 : end;
	}
}

/* Rescue sources that together cover a whole family are "any" too: a
 * lockdown keeps that family closed rather than open it to everyone. */
static void drop_covering(struct fwd_policy *p)
{
	static const uint8_t fams[] = { AF_INET, AF_INET6 };

	for (size_t f = 0; f < sizeof(fams); f++) {
		size_t out = 0;

		if (!fwd_addr_cover_all(p->rescue, p->nrescue, fams[f], NULL))
			continue;
		for (size_t i = 0; i < p->nrescue; i++) {
			if (p->rescue[i].family == fams[f])
				continue;
			p->rescue_locs[out] = p->rescue_locs[i];
			p->rescue[out++] = p->rescue[i];
		}
		p->nrescue = out;
	}
}

int fwd_policy_lockdown(const char *config_path, struct fwd_policy **out)
{
	struct fwd_policy *p = fwd_policy_new();
	struct fwd_service *svc;
	size_t len;
	char *buf;

	/* The lockdown must load on any kernel, also one without nft_fib, and
	 * must not lock out a rescue admin whose route back is asymmetric
	 * (the broken file may have said rpfilter = no for that reason). */
	p->rpfilter = FWD_RPF_NO;

	if (config_path && fwd_read_file(config_path, &buf, &len) == 0) {
		/* Locations name the file: `fwctl explain` can say why 22/tcp
		 * is open in a lockdown. */
		p->files = fwd_xcalloc(1, sizeof(*p->files));
		p->files[0] = fwd_xstrdup(config_path);
		p->nfiles = 1;
		scan_rescue(p, p->files[0], buf, len);
		drop_covering(p);
		free(buf);
	}
	if (p->nrescue) {
		p->services = svc = fwd_xcalloc(1, sizeof(*svc));
		p->nservices = 1;
		svc->name = fwd_xstrdup("rescue");
		svc->dir = FWD_DIR_IN;
		svc->loc = p->rescue_locs[0];
		svc->ports = fwd_xcalloc(1, sizeof(*svc->ports));
		svc->nports = 1;
		svc->ports[0] = (struct fwd_ports){
			.proto = IPPROTO_TCP, .lo = 22, .hi = 22, .loc = svc->loc,
		};
		svc->allow = fwd_xcalloc(p->nrescue, sizeof(*svc->allow));
		svc->nallow = p->nrescue;
		for (size_t i = 0; i < p->nrescue; i++)
			svc->allow[i] = (struct fwd_peer){
				.kind = FWD_PEER_ADDR, .addr = p->rescue[i],
				.list = SIZE_MAX, .loc = p->rescue_locs[i],
			};
	} else if (p->nfiles) {
		free(p->files[0]);
		free(p->files);
		p->files = NULL;
		p->nfiles = 0;
	}
	*out = p;
	return 0;
}

/* ---- what broken files still say about inbound ---- */

/* The last `inbound =` of [defaults] in one file's text, read leniently
 * (the file is broken), or -1. */
static int scan_inbound_text(const char *buf, size_t len)
{
	static const char *const names[] = {
		[FWD_DENY] = "deny", [FWD_REJECT] = "reject", [FWD_ALLOW] = "allow",
	};
	const char *s = buf, *end = buf + len;
	bool in_defaults = false;
	int found = -1;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end, *t = s, *k;

		while (t < e && (blank(*t) || *t == '\r'))
			t++;
		if (t < e && *t == '[') {
			for (k = t + 1; k < e && blank(*k); k++)
				;
			in_defaults = (size_t)(e - k) >= 8 && !memcmp(k, "defaults", 8);
			for (k += 8; in_defaults && k < e && blank(*k); k++)
				;
			in_defaults = in_defaults && k < e && *k == ']';
		} else if (in_defaults && t == s && (size_t)(e - t) > 7 &&
			   !memcmp(t, "inbound", 7) && (blank(t[7]) || t[7] == '=')) {
			for (k = t + 7; k < e && blank(*k); k++)
				;
			if (k < e && *k == '=') {
				const char *w = k + 1, *we;

				while (w < e && blank(*w))
					w++;
				for (we = w; we < e && !blank(*we) && *we != ';' &&
				     *we != '#' && *we != '\r'; we++)
					;
				found = -2;	/* a word fwd cannot read */
				for (int a = 0; a < 3; a++)
					if ((size_t)(we - w) == strlen(names[a]) &&
					    !memcmp(w, names[a], (size_t)(we - w)))
						found = a;
			}
		}
		s = nl ? nl + 1 : end;
	}
	return found;
}

int fwd_policy_scan_inbound(const char *config_path)
{
	const char *slash = strrchr(config_path, '/');
	char *buf, *dir, *path;
	int found[2] = { -1, -1 }, v;	/* [0]: allow seen, [1]: other seen */
	struct dirent *de;
	size_t len;
	DIR *dp;

	if (fwd_read_file(config_path, &buf, &len) == 0) {
		v = scan_inbound_text(buf, len);
		if (v != -1)
			found[v != FWD_ALLOW] = v;
		free(buf);
	}
	/* [defaults] may be in a conf.d file as well (once in the policy). */
	dir = slash ? fwd_xasprintf("%.*sconf.d", (int)(slash - config_path + 1), config_path)
		    : fwd_xstrdup("conf.d");
	dp = opendir(dir);
	while (dp && (de = readdir(dp))) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".conf"))
			continue;
		path = fwd_xasprintf("%s/%s", dir, de->d_name);
		if (fwd_read_file(path, &buf, &len) == 0) {
			v = scan_inbound_text(buf, len);
			if (v != -1)
				found[v != FWD_ALLOW] = v;
			free(buf);
		}
		free(path);
	}
	if (dp)
		closedir(dp);
	free(dir);
	/* Anything but allow wins: the answer is used to decide whether an
	 * open ruleset may be applied, so doubt means no. */
	if (found[1] != -1)
		return found[1] >= 0 ? found[1] : FWD_DENY;
	return found[0] == FWD_ALLOW ? FWD_ALLOW : -ENOENT;
}
