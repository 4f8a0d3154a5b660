// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `fwctl import ufw|iptables|firewalld [FILE...|-]`: another firewall's
 * configuration -> the parsers and writer of policy/import*.c -> a checked
 * fwd policy, written atomically into conf.d (never over an existing file
 * unless --force) or printed with -n. Offline, like `fwctl check`: it needs
 * no daemon, and it applies nothing (`fwctl reload` does).
 */
#include "import-cmd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "import.h"
#include "json.h"
#include "policy.h"
#include "util.h"

#define FWD_DEFAULT_CONFIG FWD_SYSCONFDIR "/fwd/fwd.conf"

struct import_opts {
	const char *tool;
	const char **files;
	size_t nfiles;
	bool dry;			/* -n: print, write nothing */
	bool force;
	bool verbose;
	bool json;			/* fwctl --json: one JSON document on stdout */
	const char *out;		/* -o FILE */
	const char *config;		/* -c FILE */
	const char **svcdirs;		/* --services-dir, in lookup order */
	size_t nsvcdirs;
};

static int usage(void)
{
	fprintf(stderr, "fwctl: usage: fwctl import ufw|iptables|firewalld [FILE...|-] "
		"[-n] [--force] [-v] [-o FILE] [-c CONFIG] [--services-dir DIR] [--json]\n");
	return 2;
}

/* A whole input: a file or standard input ("-"). */
static int read_input(const char *path, char **buf, size_t *len)
{
	size_t cap = 0;

	if (strcmp(path, "-") != 0)
		return fwd_read_file(path, buf, len);
	*buf = NULL;
	*len = 0;
	for (;;) {
		ssize_t n;

		FWD_GROW(*buf, cap, *len + 65537);
		n = read(STDIN_FILENO, *buf + *len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(*buf);
			return -errno;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
		if (*len > FWD_READ_MAX) {
			free(*buf);
			return -EFBIG;
		}
	}
	(*buf)[*len] = '\0';
	return 0;
}

/* firewalld's lookup: the first directory (given, else /etc/firewalld then
 * /usr/lib/firewalld) holding NAME.xml. */
static char *service_file(void *arg, const char *name, size_t *len, char **path)
{
	const struct import_opts *o = arg;
	static const char *const dflt[] = { "/etc/firewalld/services",
					    "/usr/lib/firewalld/services" };
	const char *const *dirs = o->nsvcdirs ? o->svcdirs : dflt;
	size_t n = o->nsvcdirs ? o->nsvcdirs : 2;

	/* A name is a file name, never a path. */
	if (!*name || strchr(name, '/') || name[0] == '.')
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char *p = fwd_xasprintf("%s/%s.xml", dirs[i], name), *buf;

		if (fwd_read_file(p, &buf, len) == 0) {
			*path = p;
			return buf;
		}
		free(p);
	}
	return NULL;
}

static int parse_inputs(struct fwd_import *imp, struct import_opts *o)
{
	for (size_t i = 0; i < o->nfiles; i++) {
		const char *name = strcmp(o->files[i], "-") ? o->files[i] : "stdin";
		char *buf;
		size_t len;
		int ret = read_input(o->files[i], &buf, &len);

		if (ret) {
			fprintf(stderr, "fwctl: import: %s: %s\n", name, fwd_read_strerror(ret));
			return ret;
		}
		if (!strcmp(o->tool, "iptables"))
			fwd_import_iptables(imp, name, buf, len);
		else if (!strcmp(o->tool, "ufw"))
			fwd_import_ufw(imp, name, buf, len);
		else
			fwd_import_firewalld(imp, name, buf, len, service_file, o);
		free(buf);
	}
	return 0;
}

/* ---- checking and writing --------------------------------------------- */

/* s (malloc'd, consumed) with every "DIR/" of the private directory
 * read as "CONFD/": messages name the files the user has. */
static char *unprivate(char *s, const char *dir, const char *confd)
{
	size_t dl = strlen(dir);
	char *hit = strstr(s, dir), *out;

	if (!hit || hit[dl] != '/')
		return s;
	out = fwd_xasprintf("%.*s%s%s", (int)(hit - s), s, confd, hit + dl);
	free(s);
	return unprivate(out, dir, confd);
}

/* The policy fwd would load once the new file sits in conf.d: the main
 * file (or the built-in default), the other conf.d files and the new one,
 * through a private directory of symlinks, so the real conf.d is not
 * touched before the text has passed. Every entry of conf.d is linked
 * (list files a conf.d file names relative to it are found), and messages
 * name the real conf.d. */
static int check_with_main(const char *config, const char *confd, const char *name,
			   const char *text, struct fwd_policy **out, struct fwd_diags *d)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = fwd_xasprintf("%s/fwctl-import-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	struct fwd_load_opts lo = { .builtin_if_missing = true };
	struct fwd_policy *p = NULL;
	DIR *dh;
	struct dirent *e;
	char *np;
	FILE *f;
	int ret;

	char *abs = realpath(confd, NULL);

	if (!mkdtemp(dir)) {
		ret = -errno;
		free(dir);
		free(abs);
		return ret;
	}
	/* The links point at absolute paths: they sit in another directory. */
	if (abs && (dh = opendir(abs))) {
		while ((e = readdir(dh))) {
			size_t n = strlen(e->d_name);
			char *src, *dst;

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
			    !strcmp(e->d_name, name) || n == 0)
				continue;
			src = fwd_xasprintf("%s/%s", abs, e->d_name);
			dst = fwd_xasprintf("%s/%s", dir, e->d_name);
			if (symlink(src, dst) != 0)
				fwd_diags_add(d, src, 0, "cannot link it for the check: %s",
					      strerror(errno));
			free(src);
			free(dst);
		}
		closedir(dh);
	}
	np = fwd_xasprintf("%s/%s", dir, name);
	if (text) {
		f = fopen(np, "w");
		if (!f || fputs(text, f) < 0 || fclose(f) != 0)
			fwd_diags_add(d, np, 0, "cannot write the check's copy");
	}
	lo.confd_path = dir;
	ret = d->n ? -EIO : fwd_policy_load(config, &lo, &p, d);
	if (out && ret == 0)
		*out = p;
	else
		fwd_policy_free(p);
	for (size_t i = 0; i < d->n; i++) {
		d->v[i].file = d->v[i].file ? unprivate(d->v[i].file, dir, confd) : NULL;
		d->v[i].msg = unprivate(d->v[i].msg, dir, confd);
	}
	/* Tidy the private directory whatever happened. */
	if ((dh = opendir(dir))) {
		while ((e = readdir(dh)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(dh), e->d_name, 0);
		closedir(dh);
	}
	rmdir(dir);
	free(np);
	free(dir);
	free(abs);
	return ret;
}

/*
 * Atomically: a temp file beside the target (O_EXCL, random name), fsync,
 * then link() it to the name, which fails if the name exists (no window
 * where a concurrent file is overwritten), or rename() over it with
 * --force; then fsync of the directory.
 */
static int write_atomic(const char *path, const char *text, bool force)
{
	char *tmp = fwd_xasprintf("%s.XXXXXX", path), *slash, *dir;
	size_t len = strlen(text), off = 0;
	int fd, dfd, ret = 0;

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		free(tmp);
		return ret;
	}
	fchmod(fd, 0644);
	while (off < len && ret == 0) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno != EINTR)
			ret = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (ret == 0 && fsync(fd) != 0)
		ret = -errno;
	close(fd);
	if (ret == 0 && !force && link(tmp, path) != 0)
		ret = -errno;
	if (ret == 0 && force && rename(tmp, path) != 0)
		ret = -errno;
	unlink(tmp);
	slash = strrchr(path, '/');
	dir = slash ? fwd_xstrndup(path, (size_t)(slash - path + (slash == path))) :
		      fwd_xstrdup(".");
	if (ret == 0 && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(dir);
	free(tmp);
	return ret;
}

static void json_diags(struct json_out *j, const char *key, const struct fwd_diags *d)
{
	json_key(j, key);
	json_arr_begin(j);
	for (size_t i = 0; i < d->n; i++) {
		json_obj_begin(j);
		json_key(j, "file");
		if (d->v[i].file)
			json_str(j, d->v[i].file);
		else
			json_null(j);
		json_key(j, "line");
		json_uint(j, d->v[i].line);
		json_key(j, "message");
		json_str(j, d->v[i].msg);
		json_obj_end(j);
	}
	json_arr_end(j);
}

/* --json: what was written (or the policy, with -n) and both lists. */
static void json_report(const struct import_opts *o, const struct fwd_import *imp,
			const char *target, const char *text, bool written)
{
	struct json_out j;

	json_init(&j, stdout);
	json_obj_begin(&j);
	json_key(&j, "file");
	if (target && written)
		json_str(&j, target);
	else
		json_null(&j);
	json_key(&j, "written");
	json_bool(&j, written);
	if (o->dry && text) {
		json_key(&j, "policy");
		json_str(&j, text);
	}
	json_diags(&j, "not_imported", &imp->skipped);
	json_diags(&j, "notes", &imp->notes);
	json_obj_end(&j);
	json_finish(&j);
}

static void print_diags(const struct fwd_diags *d, const char *prefix)
{
	for (size_t i = 0; i < d->n; i++) {
		char *s = fwd_diag_format(&d->v[i]);

		fprintf(stderr, "%s%s\n", prefix, s ? s : d->v[i].msg);
		free(s);
	}
}

/* -n: the text, checked alone (it must be a whole policy). */
static int check_alone(const char *text, struct fwd_diags *d)
{
	const struct fwd_load_opts lo = { .confd_path = "" };
	struct fwd_policy *p = NULL;
	int ret = fwd_policy_load_buffer("<imported>", text, strlen(text), &lo, &p, d);

	fwd_policy_free(p);
	return ret;
}

static int run(struct import_opts *o)
{
	struct fwd_import imp;
	struct fwd_import_render_opts ro = { .defaults = true };
	struct fwd_policy *main_p = NULL;
	struct fwd_diags d;
	char *text = NULL, *target = NULL, *confd = NULL, *src;
	const char *base = NULL;
	int ret, rc = 1;

	fwd_import_init(&imp, o->tool);
	fwd_diags_init(&d);
	if (parse_inputs(&imp, o) != 0)
		goto out;
	if (!o->dry && !o->out) {
		/* Into conf.d beside the main file (where fwd reads it):
		 * the files there now, but the one this import replaces,
		 * decide whether this one may carry [defaults]. */
		const char *slash = strrchr(o->config, '/');

		confd = fwd_xasprintf("%.*sconf.d", slash ? (int)(slash - o->config + 1) : 0,
				      o->config);
		target = fwd_xasprintf("%s/50-import-%s.conf", confd, o->tool);
		base = strrchr(target, '/') + 1;
		if (check_with_main(o->config, confd, base, NULL, &main_p, &d) != 0) {
			print_diags(&d, "");
			fprintf(stderr, "fwctl: import: %s does not load; fix it first "
				"(fwctl check)\n", o->config);
			goto out;
		}
		ro.defaults = !main_p->defaults_loc.file;
		ro.main = main_p;
	} else if (o->out) {
		target = fwd_xstrdup(o->out);
	}
	src = o->nfiles == 1 ? fwd_xstrdup(o->files[0]) :
	      fwd_xasprintf("%zu files", o->nfiles);
	ro.source = src;
	text = fwd_import_render(&imp, &ro);
	free(src);
	ret = base ? check_with_main(o->config, confd, base, text, NULL, &d) :
		     check_alone(text, &d);
	if (ret != 0) {
		print_diags(&d, "");
		fprintf(stderr, "fwctl: import: the imported policy does not pass the "
			"check%s%s (errors above); nothing written\n",
			base ? " together with " : "", base ? o->config : "");
		goto out;
	}
	if (o->dry) {
		if (!o->json)
			fputs(text, stdout);
	} else if ((ret = write_atomic(target, text, o->force)) != 0) {
		fprintf(stderr, "fwctl: import: %s: %s%s\n", target, strerror(-ret),
			ret == -EEXIST ? " (pass --force to replace it)" : "");
		if (o->json)
			json_report(o, &imp, target, NULL, false);
		else
			print_diags(&imp.skipped, "");
		goto out;
	}
	if (o->json)
		json_report(o, &imp, target, text, !o->dry);
	else
		print_diags(&imp.skipped, "");
	if (o->verbose && !o->json)
		print_diags(&imp.notes, "note: ");
	if (!o->dry)
		fprintf(stderr, "fwctl: import: wrote %s; `fwctl reload` applies it\n",
			target);
	if (imp.skipped.n)
		fprintf(stderr, "fwctl: import: %zu thing%s not imported (%s)\n",
			imp.skipped.n, imp.skipped.n == 1 ? "" : "s",
			o->json ? "not_imported" : "listed above");
	rc = imp.skipped.n ? 1 : 0;
out:
	free(text);
	free(target);
	free(confd);
	fwd_policy_free(main_p);
	fwd_diags_free(&d);
	fwd_import_free(&imp);
	return rc;
}

int fwctl_import(int argc, char **argv, bool force, bool json)
{
	static const char *const ufw_default[] = {
		"/etc/ufw/user.rules", "/etc/ufw/user6.rules", "/etc/default/ufw",
	};
	static const char *stdin_only[] = { "-" };
	struct import_opts o = { .force = force, .json = json, .config = FWD_DEFAULT_CONFIG };
	const char **files = fwd_xcalloc((size_t)argc + 3, sizeof(*files));
	const char **dirs = fwd_xcalloc((size_t)argc, sizeof(*dirs));
	int rc;

	if (argc < 2) {
		free(files);
		free(dirs);
		return usage();
	}
	o.tool = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-n") || !strcmp(a, "--dry-run"))
			o.dry = true;
		else if (!strcmp(a, "--force") || !strcmp(a, "-f"))
			o.force = true;
		else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			o.verbose = true;
		else if ((!strcmp(a, "-o") || !strcmp(a, "-c") ||
			  !strcmp(a, "--services-dir")) && i + 1 < argc) {
			if (a[1] == 'o')
				o.out = argv[++i];
			else if (a[1] == 'c')
				o.config = argv[++i];
			else
				dirs[o.nsvcdirs++] = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "fwctl: import: unknown option or missing value: %s\n", a);
			free(files);
			free(dirs);
			return usage();
		} else {
			files[o.nfiles++] = a;
		}
	}
	o.files = files;
	o.svcdirs = dirs;
	if (strcmp(o.tool, "ufw") && strcmp(o.tool, "iptables") && strcmp(o.tool, "firewalld")) {
		fprintf(stderr, "fwctl: import: unknown firewall '%s'; fwctl imports ufw, "
			"iptables and firewalld\n", o.tool);
		rc = usage();
	} else if (!o.nfiles && !strcmp(o.tool, "firewalld")) {
		fprintf(stderr, "fwctl: import: name the zone file(s), e.g. "
			"/etc/firewalld/zones/public.xml\n");
		rc = usage();
	} else {
		if (!o.nfiles && !strcmp(o.tool, "ufw")) {
			/* ufw's own files, those that are there. */
			for (size_t i = 0; i < 3; i++)
				if (access(ufw_default[i], F_OK) == 0)
					files[o.nfiles++] = ufw_default[i];
			if (!o.nfiles)
				fprintf(stderr, "fwctl: import: none of ufw's files is "
					"here (/etc/ufw/user.rules, ...); name them\n");
		} else if (!o.nfiles) {
			o.files = (const char **)stdin_only;
			o.nfiles = 1;
			if (isatty(STDIN_FILENO))
				fprintf(stderr, "fwctl: import: reading iptables-save output "
					"from standard input (end with Ctrl-D)\n");
		}
		rc = o.nfiles ? run(&o) : 2;
	}
	free(files);
	free(dirs);
	return rc;
}
