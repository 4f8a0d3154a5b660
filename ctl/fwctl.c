// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwctl: the command administrators and scripts type. A table of
 * subcommands { name, fn, usage, help }; the table also prints the usage.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "policy.h"

#define FWD_DEFAULT_CONFIG "/etc/fwd/fwd.conf"

/* Exit codes, documented in fwctl(8) and README. */
enum {
	FWCTL_OK = 0,
	FWCTL_ERR = 1,		/* the request failed (bad policy, rejected edit) */
	FWCTL_USAGE = 2,	/* bad command line */
};

struct fwctl_opts {
	bool json;
};

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv, const struct fwctl_opts *o);
	const char *usage;
	const char *help;
};

static int cmd_check(int argc, char **argv, const struct fwctl_opts *o);
static int cmd_help(int argc, char **argv, const struct fwctl_opts *o);
static int cmd_version(int argc, char **argv, const struct fwctl_opts *o);

static const struct subcommand subcommands[] = {
	{ "check", cmd_check, "check [FILE]",
	  "Validate a policy file (and its conf.d/ and list files) offline.\n"
	  "Prints every error as FILE:LINE: message; exit 0 if valid, 1 if not.\n"
	  "Touches neither the kernel nor the daemon; needs no privileges\n"
	  "beyond reading the files. FILE defaults to " FWD_DEFAULT_CONFIG "." },
	{ "help", cmd_help, "help [COMMAND]", "Show help for fwctl or one command." },
	{ "version", cmd_version, "version", "Print the version." },
};

static const size_t nsubcommands = sizeof(subcommands) / sizeof(subcommands[0]);

static void usage(FILE *out)
{
	fprintf(out, "usage: fwctl [--json] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < nsubcommands; i++)
		fprintf(out, "  %s\n", subcommands[i].usage);
	fprintf(out, "\n'fwctl help COMMAND' describes one command.\n");
}

static size_t policy_addresses(const struct fwd_policy *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nlists; i++)
		n += p->lists[i].n;
	for (size_t i = 0; i < p->nservices; i++)
		n += p->services[i].nallow;
	return n;
}

static int cmd_check(int argc, char **argv, const struct fwctl_opts *o)
{
	const char *path = argc > 1 ? argv[1] : FWD_DEFAULT_CONFIG;
	struct fwd_policy *p = NULL;
	struct fwd_diags d;
	int ret;

	if (argc > 2) {
		fprintf(stderr, "fwctl: usage: fwctl check [FILE]\n");
		return FWCTL_USAGE;
	}
	fwd_diags_init(&d);
	ret = fwd_policy_load(path, NULL, &p, &d);
	if (o->json) {
		struct json_out j;

		json_init(&j, stdout);
		json_obj_begin(&j);
		json_key(&j, "file"); json_str(&j, path);
		json_key(&j, "valid"); json_bool(&j, ret == 0);
		if (ret == 0) {
			json_key(&j, "services"); json_uint(&j, p->nservices);
			json_key(&j, "lists"); json_uint(&j, p->nlists);
			json_key(&j, "addresses"); json_uint(&j, policy_addresses(p));
		}
		json_key(&j, "errors");
		json_arr_begin(&j);
		for (size_t i = 0; i < d.n; i++) {
			json_obj_begin(&j);
			json_key(&j, "file");
			if (d.v[i].file)
				json_str(&j, d.v[i].file);
			else
				json_null(&j);
			json_key(&j, "line"); json_uint(&j, d.v[i].line);
			json_key(&j, "message"); json_str(&j, d.v[i].msg);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_obj_end(&j);
		json_finish(&j);
	} else if (ret == 0) {
		printf("%s: ok (%zu services, %zu lists, %zu addresses)\n", path,
		       p->nservices, p->nlists, policy_addresses(p));
	} else {
		fwd_diags_print(&d, stderr);
		fprintf(stderr, "%s: %zu error%s, policy not valid\n", path, d.n,
			d.n == 1 ? "" : "s");
	}
	fwd_policy_free(p);
	fwd_diags_free(&d);
	return ret == 0 ? FWCTL_OK : FWCTL_ERR;
}

static const struct subcommand *find_subcommand(const char *name)
{
	for (size_t i = 0; i < nsubcommands; i++)
		if (strcmp(subcommands[i].name, name) == 0)
			return &subcommands[i];
	return NULL;
}

static int cmd_help(int argc, char **argv, const struct fwctl_opts *o)
{
	const struct subcommand *sc;

	if (argc < 2) {
		usage(stdout);
		return FWCTL_OK;
	}
	sc = find_subcommand(argv[1]);
	if (!sc) {
		fprintf(stderr, "fwctl: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return FWCTL_USAGE;
	}
	printf("usage: fwctl %s\n\n%s\n", sc->usage, sc->help);
	return FWCTL_OK;
}

static int cmd_version(int argc, char **argv, const struct fwctl_opts *o)
{
	printf("fwctl %s\n", FWD_VERSION);
	return FWCTL_OK;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct fwctl_opts o = { 0 };
	const struct subcommand *sc;
	int c;

	/* Options before the command word only; the command parses the rest. */
	while ((c = getopt_long(argc, argv, "+jhV", lopts, NULL)) != -1) {
		switch (c) {
		case 'j': o.json = true; break;
		case 'h': usage(stdout); return FWCTL_OK;
		case 'V': return cmd_version(0, NULL, &o);
		default: usage(stderr); return FWCTL_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return FWCTL_USAGE;
	}
	/* Accept --json after the command word too: scripts put it anywhere. */
	for (int i = optind + 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			o.json = true;
			memmove(&argv[i], &argv[i + 1], (argc - i - 1) * sizeof(*argv));
			argc--;
			i--;
		}
	}
	sc = find_subcommand(argv[optind]);
	if (!sc) {
		fprintf(stderr, "fwctl: unknown command '%s'; commands are:", argv[optind]);
		for (size_t i = 0; i < nsubcommands; i++)
			fprintf(stderr, " %s", subcommands[i].name);
		fputc('\n', stderr);
		return FWCTL_USAGE;
	}
	return sc->fn(argc - optind, argv + optind, &o);
}
