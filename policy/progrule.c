// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * program = rules + a queued packet + its socket's owner -> the verdict
 * loop's program decision (progrule.h).
 *
 * A policy names a handful of programs, each with a few ports and
 * destinations, and only the first packet of a flow is asked about, so a
 * linear walk is enough; the big lists stay in the kernel's sets.
 */
#include "progrule.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "guard.h"
#include "util.h"

static void add_addr(struct fwd_progrule *r, const struct fwd_addr *a)
{
	r->addrs = fwd_xreallocarray(r->addrs, r->naddrs + 1, sizeof(*r->addrs));
	r->addrs[r->naddrs++] = *a;
}

/* The service's destinations, copied: the rules outlive the policy. */
static void copy_dests(struct fwd_progrule *r, const struct fwd_policy *p,
		       const struct fwd_service *sv)
{
	if (sv->nports) {
		r->ports = fwd_xreallocarray(NULL, sv->nports, sizeof(*r->ports));
		memcpy(r->ports, sv->ports, sv->nports * sizeof(*r->ports));
		for (size_t i = 0; i < sv->nports; i++)
			r->ports[i].loc.file = NULL;	/* not needed, not kept */
		r->nports = sv->nports;
	}
	for (size_t i = 0; i < sv->nallow; i++) {
		const struct fwd_peer *pe = &sv->allow[i];

		if (pe->kind == FWD_PEER_ANY)
			r->any = true;
		else if (pe->kind == FWD_PEER_ADDR)
			add_addr(r, &pe->addr);
		else if (pe->list < p->nlists)
			for (size_t k = 0; k < p->lists[pe->list].n; k++)
				add_addr(r, &p->lists[pe->list].addrs[k]);
	}
}

int fwd_progrules_new(const struct fwd_policy *p, fwd_prog_resolve_fn resolve,
		      void *arg, struct fwd_progrules **out)
{
	struct fwd_progrules *rs = fwd_xcalloc(1, sizeof(*rs));

	for (size_t i = 0; p && i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];

		for (size_t k = 0; k < sv->nowners; k++) {
			const struct fwd_owner *o = &sv->owners[k];
			struct fwd_progrule *r;

			if (o->kind != FWD_OWNER_PROGRAM)
				continue;
			rs->r = fwd_xreallocarray(rs->r, rs->n + 1, sizeof(*rs->r));
			r = &rs->r[rs->n++];
			memset(r, 0, sizeof(*r));
			r->path = fwd_xstrdup(o->name);
			r->service = fwd_xstrdup(sv->name);
			r->loc.line = o->loc.line;
			r->loc.file = o->loc.file ? fwd_xstrdup(o->loc.file) : NULL;
			r->resolved = resolve ? resolve(arg, o->name, &r->id) :
					       -ENOENT;
			copy_dests(r, p, sv);
		}
	}
	*out = rs;
	return 0;
}

void fwd_progrules_free(struct fwd_progrules *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->r[i].path);
		free(rs->r[i].service);
		free((char *)rs->r[i].loc.file);
		free(rs->r[i].ports);
		free(rs->r[i].addrs);
	}
	free(rs->r);
	free(rs);
}

static bool addr_has(const struct fwd_addr *a, uint8_t family,
		     const uint8_t *dst)
{
	unsigned bits = a->prefix, i;

	if (a->family != family)
		return false;
	for (i = 0; i + 8 <= bits; i += 8)
		if (a->a[i / 8] != dst[i / 8])
			return false;
	if (i < bits) {
		uint8_t m = (uint8_t)(0xff00u >> (bits - i));

		if ((a->a[i / 8] & m) != (dst[i / 8] & m))
			return false;
	}
	return true;
}

/* Whether rule r's service covers the packet's destination. */
static bool covers(const struct fwd_progrule *r, const struct fwd_pkt *pkt)
{
	bool port = false, addr = r->any;

	for (size_t i = 0; i < r->nports && !port; i++)
		port = r->ports[i].proto == pkt->proto &&
		       r->ports[i].lo <= pkt->dport && pkt->dport <= r->ports[i].hi;
	for (size_t i = 0; i < r->naddrs && !addr; i++)
		addr = addr_has(&r->addrs[i], pkt->family, pkt->dst);
	return port && addr;
}

void fwd_prog_decide(const struct fwd_progrules *rs, const struct fwd_pkt *pkt,
		     const struct fwd_prog_owner *own,
		     struct fwd_prog_verdict *out)
{
	long cover = -1;

	*out = (struct fwd_prog_verdict){ .accept = false,
					  .reason = FWD_PROG_NOT_ALLOWED,
					  .rule = -1 };
	for (size_t i = 0; rs && i < rs->n; i++) {
		const struct fwd_progrule *r = &rs->r[i];

		if (!covers(r, pkt))
			continue;
		if (cover < 0)
			cover = (long)i;
		/* An unresolved path matches nothing; an unknown owner is
		 * nobody's binary. */
		if (own && own->known && r->resolved == 0 &&
		    r->id.dev == own->exe.dev && r->id.ino == own->exe.ino) {
			out->accept = true;
			out->reason = FWD_PROG_ALLOWED;
			out->rule = (long)i;
			return;
		}
	}
	out->rule = cover;
	if (!own || !own->known)
		out->reason = FWD_PROG_UNKNOWN_OWNER;
}

const char *fwd_prog_reason_name(enum fwd_prog_reason r)
{
	switch (r) {
	case FWD_PROG_ALLOWED: return "allowed";
	case FWD_PROG_UNKNOWN_OWNER: return "unknown_owner";
	case FWD_PROG_NOT_ALLOWED: return "not_allowed";
	}
	return "?";
}
