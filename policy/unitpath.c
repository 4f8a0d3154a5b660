// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * a `unit =` word -> the cgroup systemd runs it in, and its level
 * (outbound.h: fwd_unit_cgroup_path). On its own, with nothing but libc
 * and diag.c's quoting, so the parser's fuzz targets build it too.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "outbound.h"

/* The reason a unit word is refused: BEFORE 'WORD' AFTER. */
static int unit_why(char *why, size_t len, const char *w, size_t n,
		    const char *before, const char *after)
{
	char q[FWD_QUOTE_BUF(128)];

	if (why && len)
		snprintf(why, len, "%s'%s'%s", before, fwd_quote(q, w, n, 128),
			 after);
	return -EINVAL;
}

/* One part of a unit word: unit name characters only, not . or .. */
static bool unit_part_ok(const char *s, size_t n)
{
	if (n == 0 || (n == 1 && s[0] == '.') ||
	    (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '_' && c != '.' && c != '-' &&
		    c != ':' && c != '\\' && c != '@')
			return false;
	}
	return true;
}

/* A template's prefix as systemd escapes it into its slice's name
 * (unit_name_escape: '-' and anything not [A-Za-z0-9:_.] as \xNN, a
 * leading '.' too). */
static size_t slice_escape(char *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || c == ':' || c == '_' || (c == '.' && i)) {
			o[k++] = (char)c;
		} else {
			o[k++] = '\\';
			o[k++] = 'x';
			o[k++] = hex[c >> 4];
			o[k++] = hex[c & 15];
		}
	}
	return k;
}

int fwd_unit_cgroup_path(const char *w, size_t n, char *buf, size_t len,
			 unsigned *level, char *why, size_t whylen)
{
	static const char sfx[] = ".service";
	const size_t ns = sizeof(sfx) - 1;
	const char *base, *at;
	size_t bn, parts = 1, k;

	if (n && w[0] == '/') {		/* as systemctl status prints it */
		w++;
		n--;
	}
	base = memrchr(w, '/', n);
	base = base ? base + 1 : w;
	bn = n - (size_t)(base - w);
	if (bn <= ns || bn > 255 || memcmp(base + bn - ns, sfx, ns) != 0)
		return unit_why(why, whylen, w, n, "invalid unit ", "; name a "
				"system service unit, e.g. apt-daily.service");
	for (const char *p = w; p < w + n;) {
		const char *e = memchr(p, '/', (size_t)(w + n - p));
		size_t pn = e ? (size_t)(e - p) : (size_t)(w + n - p);

		if (!unit_part_ok(p, pn))
			return unit_why(why, whylen, w, n, "invalid unit ", "; unit "
					"names are made of A-Z a-z 0-9 : _ . - \\ @, "
					"and a cgroup path of them has no empty, . or "
					".. part");
		if (!e)
			break;
		parts++;
		p = e + 1;
	}
	at = memchr(base, '@', bn);
	if (at && (at == base || memchr(at + 1, '@', bn - (size_t)(at + 1 - base))))
		return unit_why(why, whylen, w, n, "invalid unit ", "; a template "
				"instance is PREFIX@INSTANCE.service");
	if (at && at + 1 == base + bn - ns)
		return unit_why(why, whylen, w, n, "unit ", " is a template, which "
				"never runs itself; name an instance of it, e.g. "
				"getty@tty1.service");
	/* The longest cgroup path: the template form, every prefix byte
	 * escaped to four. */
	k = parts > 1 ? n : at ? 20 + 4 * (size_t)(at - base) + 7 + n : 13 + n;
	if (parts > FWD_UNIT_MAX_LEVEL || k >= len)
		return unit_why(why, whylen, w, n, "invalid unit ", "; its cgroup "
				"path is too deep or too long for fwd");
	if (parts > 1) {
		memcpy(buf, w, n);
		buf[n] = '\0';
		*level = (unsigned)parts;
	} else if (at) {
		/* The slice systemd gives a system template's instances. */
		k = (size_t)snprintf(buf, len, "system.slice/system-");
		k += slice_escape(buf + k, base, (size_t)(at - base));
		snprintf(buf + k, len - k, ".slice/%.*s", (int)n, w);
		*level = 3;
	} else {
		snprintf(buf, len, "system.slice/%.*s", (int)n, w);
		*level = FWD_UNIT_CGROUP_LEVEL;
	}
	return 0;
}
