// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The policy model's own helpers (policy.h): a new model with its
 * defaults, freeing one, counting its addresses, and the names of its
 * words (list and service names, actions, protocols). The parser
 * (parse.c) and the edits (edit.c) both build on them; this file calls
 * neither.
 */
#include "policy.h"

#include <netinet/in.h>
#include <stdlib.h>

#include "edit.h"
#include "util.h"

bool fwd_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > FWD_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* ASCII only, whatever the locale says about isalnum. */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

struct fwd_policy *fwd_policy_new(void)
{
	struct fwd_policy *p = fwd_xcalloc(1, sizeof(*p));

	p->inbound = FWD_DENY;
	p->outbound = FWD_ALLOW;
	p->log = FWD_LOG_DENIED;
	p->icmp = FWD_ICMP_ESSENTIAL;
	p->counters = true;
	p->rpfilter = FWD_RPF_STRICT;
	p->queues = 1;
	p->prog_limit_n = FWD_PROG_LIMIT_N;
	p->prog_limit_w = FWD_PROG_LIMIT_W;
	p->guard.scan_ports = 10;
	p->guard.scan_window = 5;
	p->guard.flood_rate = 100;
	p->guard.flood_window = 1;
	p->guard.block = 3600;
	p->guard.prefix6 = 64;
	p->guard.max_blocked = 100000;
	p->audit.interval = 300;
	p->metrics.interval = 60;
	return p;
}

void fwd_policy_free(struct fwd_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nlists; i++) {
		free(p->lists[i].name);
		free(p->lists[i].addrs);
		free(p->lists[i].locs);
	}
	free(p->lists);
	for (size_t i = 0; i < p->nservices; i++) {
		free(p->services[i].name);
		free(p->services[i].ports);
		free(p->services[i].allow);
		for (size_t k = 0; k < p->services[i].nowners; k++)
			free(p->services[i].owners[k].name);
		free(p->services[i].owners);
	}
	free(p->services);
	for (size_t i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	free(p->files);
	free(p->edits);
	free(p->rescue);
	free(p->rescue_locs);
	free(p->guard.never);
	free(p->admin_group);
	free(p->read_group);
	free(p->confd_dir);
	free(p->metrics.textfile);
	free(p);
}

size_t fwd_policy_count_addresses(const struct fwd_policy *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nlists; i++)
		n += p->lists[i].n;
	for (size_t i = 0; i < p->nservices; i++)
		for (size_t j = 0; j < p->services[i].nallow; j++)
			n += p->services[i].allow[j].kind == FWD_PEER_ADDR;
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		switch (e->kind) {
		case FWD_EDIT_ALLOW:
		case FWD_EDIT_DENY:
			n += e->peer == FWD_PEER_ADDR;
			break;
		case FWD_EDIT_BLOCK:
		case FWD_EDIT_LIST_ADD:
			n++;
			break;
		case FWD_EDIT_LIST_DEL:
			break;
		}
	}
	return n;
}

const char *fwd_action_name(enum fwd_action a)
{
	switch (a) {
	case FWD_DENY: return "deny";
	case FWD_REJECT: return "reject";
	case FWD_ALLOW: return "allow";
	}
	return "?";
}

const char *fwd_log_name(enum fwd_log l)
{
	switch (l) {
	case FWD_LOG_OFF: return "off";
	case FWD_LOG_DENIED: return "denied";
	case FWD_LOG_ALL: return "all";
	}
	return "?";
}

const char *fwd_icmp_name(enum fwd_icmp i)
{
	switch (i) {
	case FWD_ICMP_ESSENTIAL: return "essential";
	case FWD_ICMP_ALL: return "all";
	case FWD_ICMP_NONE: return "none";
	}
	return "?";
}

const char *fwd_rpfilter_name(enum fwd_rpfilter r)
{
	switch (r) {
	case FWD_RPF_STRICT: return "strict";
	case FWD_RPF_LOOSE: return "loose";
	case FWD_RPF_NO: return "no";
	}
	return "?";
}

const char *fwd_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	}
	return "?";
}
