// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * words -> struct fwd_restrict: the interface name and the per-source rate
 * limit a service or an allow edit may carry (policy.h). Shared by the INI
 * loader (interface =, limit =) and the edit grammar (on IFACE, limit
 * N/WINDOW), so both accept and print the same words.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "util.h"

bool fwd_restrict_eq(const struct fwd_restrict *a, const struct fwd_restrict *b)
{
	return strncmp(a->ifname, b->ifname, sizeof(a->ifname)) == 0 &&
	       a->limit_n == b->limit_n &&
	       (a->limit_n == 0 || a->limit_w == b->limit_w);
}

const char *fwd_ifname_check(const char *s, size_t n)
{
	if (n == 0)
		return "an interface name cannot be empty";
	if (n > FWD_IFNAME_MAX)
		return "an interface name has at most 15 characters (IFNAMSIZ - 1)";
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return "'.' and '..' are not interface names";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* The kernel refuses '/', ':' and blanks; '*' would read as
		 * nft's wildcard and quotes would break the rendered text. */
		if (c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '*' ||
		    c == '"' || c == '\\')
			return "an interface name has no blanks, '/', ':', '*', "
			       "quotes or backslashes";
	}
	return NULL;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

const char *fwd_limit_parse(const char *s, size_t n, uint32_t *num,
			    uint32_t *win)
{
	static const char *const form = "a limit is N/WINDOW, like 6/30s or "
					 "100/1m (N 1-1000000, WINDOW 1s-1d)";
	uint64_t v = 0, w;
	size_t i = 0, d;

	while (i < n && isdigit((unsigned char)s[i])) {
		if (v <= FWD_LIMIT_N_MAX)
			v = v * 10 + (uint64_t)(s[i] - '0');
		i++;
	}
	d = i;
	while (i < n && blank(s[i]))
		i++;
	if (d == 0 || i == n || s[i] != '/')
		return form;
	i++;
	while (i < n && blank(s[i]))
		i++;
	while (n > i && blank(s[n - 1]))
		n--;
	if (fwd_duration_parse(s + i, n - i, &w) < 0)
		return form;
	if (v < 1 || v > FWD_LIMIT_N_MAX)
		return "a limit's N is 1 to 1000000";
	if (w > FWD_LIMIT_W_MAX)
		return "a limit's WINDOW is 1s to 1d";
	*num = (uint32_t)v;
	*win = (uint32_t)w;
	return NULL;
}

int fwd_limit_format(uint32_t num, uint32_t win, char *buf, size_t len)
{
	static const struct { uint32_t s; char u; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (win && win % units[i].s == 0)
			return snprintf(buf, len, "%u/%u%c", num, win / units[i].s,
					units[i].u);
	return snprintf(buf, len, "%u/%us", num, win);
}

int fwd_restrict_format(const struct fwd_restrict *r, char *buf, size_t len)
{
	char lim[48] = "";
	char on[FWD_IFNAME_MAX + 8] = "";

	if (r->ifname[0])
		snprintf(on, sizeof(on), " on %.*s", FWD_IFNAME_MAX, r->ifname);
	if (r->limit_n) {
		lim[0] = ' ';
		memcpy(lim + 1, "limit ", 6);
		fwd_limit_format(r->limit_n, r->limit_w, lim + 7, sizeof(lim) - 7);
	}
	return snprintf(buf, len, "%s%s", on, lim);
}
