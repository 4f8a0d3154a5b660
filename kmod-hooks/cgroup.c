// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * unit names -> cgroup2 ids (cgroup.h), for the kernel's socket cgroupv2
 * match of `unit =` rules.
 */
#include "cgroup.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diag.h"
#include "ir.h"
#include "outbound.h"
#include "policy.h"
#include "util.h"

/* Octal escapes of mountinfo (\040 for a space) undone in place. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* One mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS] - FSTYPE SRC OPTS".
 * Only a mount of the hierarchy's root ("/") shows every unit. */
static int cgroup2_line(char *line, char *buf, size_t len)
{
	char *f[5], *sep, *save = NULL, *t;
	int n = 0;

	sep = strstr(line, " - ");
	if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
		return -ENOENT;
	*sep = '\0';
	for (t = strtok_r(line, " ", &save); t && n < 5;
	     t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	if (n < 5 || strcmp(f[3], "/") != 0)
		return -ENOENT;
	unescape(f[4]);
	if (strlen(f[4]) >= len)
		return -ENAMETOOLONG;
	strcpy(buf, f[4]);
	return 0;
}

int fwd_cgroup2_root(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = -EOPNOTSUPP;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (cgroup2_line(line, buf, len) == 0) {
			ret = 0;
			break;
		}
	}
	free(line);
	fclose(f);
	return ret;
}

int fwd_cgroup_unit_path(const char *unit, char *buf, size_t len)
{
	char root[PATH_MAX], rel[FWD_UNIT_PATH_MAX];
	unsigned level;
	int ret;

	if (fwd_unit_cgroup_path(unit, strlen(unit), rel, sizeof(rel), &level,
				 NULL, 0) != 0)
		return -EINVAL;
	ret = fwd_cgroup2_root(root, sizeof(root));
	if (ret)
		return ret;
	if ((size_t)snprintf(buf, len, "%s/%s", root, rel) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int fwd_cgroup_unit_id(void *arg, const char *unit, uint64_t *id)
{
	char path[PATH_MAX + FWD_UNIT_PATH_MAX];
	struct stat st;
	int ret;

	(void)arg;
	*id = 0;
	/* The policy checked the word: no "..", no empty part. */
	ret = fwd_cgroup_unit_path(unit, path, sizeof(path));
	if (ret)
		return ret;
	if (lstat(path, &st) != 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return 0;
	*id = (uint64_t)st.st_ino;
	return 0;
}

/* nft prints a cgroup relative to /sys/fs/cgroup (its
 * SYSFS_CGROUPSV2_PATH): "unified/system.slice/x" on a hybrid host. A
 * root elsewhere has no such name: relative to the root then. */
static const char *nft_prefix(const char *root)
{
	static const char sys[] = "/sys/fs/cgroup";
	size_t n = sizeof(sys) - 1;

	if (strncmp(root, sys, n) == 0 && root[n] == '/')
		return root + n + 1;
	return "";
}

int fwd_cgroup_names(const struct fwd_policy *p, struct fwd_cgroup_name **out,
		     size_t *nout)
{
	char root[PATH_MAX];
	const char *pre;
	size_t n = 0;

	*out = NULL;
	*nout = 0;
	if (!fwd_policy_has_units(p) || fwd_cgroup2_root(root, sizeof(root)) != 0)
		return 0;
	pre = nft_prefix(root);
	for (size_t i = 0; i < p->nservices; i++)
		for (size_t k = 0; k < p->services[i].nowners; k++) {
			const struct fwd_owner *o = &p->services[i].owners[k];
			char rel[FWD_UNIT_PATH_MAX];
			struct fwd_cgroup_name *c;
			unsigned level;
			uint64_t id;

			if (o->kind != FWD_OWNER_UNIT ||
			    fwd_cgroup_unit_id(NULL, o->name, &id) != 0 || !id ||
			    fwd_unit_cgroup_path(o->name, strlen(o->name), rel,
						 sizeof(rel), &level, NULL, 0) != 0)
				continue;
			*out = fwd_xreallocarray(*out, n + 1, sizeof(**out));
			c = &(*out)[n++];
			c->id = id;
			if (asprintf(&c->path, "%s%s%s", pre, *pre ? "/" : "", rel) < 0)
				abort();	/* util.h: out of memory aborts */
		}
	*nout = n;
	return 0;
}

void fwd_cgroup_names_free(struct fwd_cgroup_name *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].path);
	free(v);
}

int fwd_cgroup_check_units(const struct fwd_policy *p, struct fwd_diags *d)
{
	char root[PATH_MAX];
	int ret = 0;

	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];

		for (size_t k = 0; k < sv->nowners; k++) {
			const struct fwd_owner *o = &sv->owners[k];

			if (o->kind != FWD_OWNER_UNIT)
				continue;
			if (!ret && fwd_cgroup2_root(root, sizeof(root)) == 0)
				return 0;
			ret = -EOPNOTSUPP;
			fwd_diags_add(d, o->loc.file, o->loc.line, "unit '%s': "
				      "this host has no cgroup2 hierarchy mounted "
				      "(cgroup v1), so the kernel cannot match units; "
				      "use user = instead", o->name);
		}
	}
	return ret;
}
