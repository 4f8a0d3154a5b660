// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwctl: the command administrators and scripts type. A table of
 * subcommands { name, fn, usage, help }; the table also prints the usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "cgroup.h"
#include "client.h"
#include "cmdtab.h"
#include "json.h"
#include "kmod.h"
#include "policy.h"
#include "proto.h"

#define FWD_DEFAULT_CONFIG FWD_SYSCONFDIR "/fwd/fwd.conf"

/* Exit codes, documented in fwctl(8) and README. */
enum {
	FWCTL_OK = 0,
	FWCTL_ERR = 1,		/* the request failed (bad policy, rejected edit) */
	FWCTL_USAGE = 2,	/* bad command line */
};

struct fwctl_opts {
	bool json;
	bool force;
	const char *socket;		/* -S PATH */
};

static int cmd_check(int argc, char **argv, const struct fwctl_opts *o);
static int cmd_doctor(int argc, char **argv, const struct fwctl_opts *o);
static int cmd_help(int argc, char **argv, const struct fwctl_opts *o);
static int cmd_version(int argc, char **argv, const struct fwctl_opts *o);

/* Commands fwctl runs itself; every other row of fwd_cmdtab goes to fwd. */
static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, const struct fwctl_opts *o);
} local_commands[] = {
	{ "check", cmd_check },
	{ "doctor", cmd_doctor },
	{ "help", cmd_help },
	{ "version", cmd_version },
};

/* A user's word in a message, control bytes escaped (\x1b): what fwctl
 * prints must not drive the terminal it prints to. */
#define QWORD_MAX 60

static const char *qword(char *buf, const char *w)
{
	return fwd_quote(buf, w, strlen(w), QWORD_MAX);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: fwctl [-S SOCKET] [--json] COMMAND [ARGS]\n\ncommands:\n");
	for (unsigned i = 0; i < fwd_ncmdtab; i++)
		fprintf(out, "  %s\n", fwd_cmdtab[i].usage);
	fprintf(out, "\n'fwctl help COMMAND' describes one command. The socket is -S PATH,\n"
		"else $FWD_SOCKET, else " FWD_CTL_DEFAULT_PATH ".\n"
		"Exit codes: 0 ok, 1 the request failed, 2 usage, 3 permission denied,\n"
		"4 fwd unreachable, 5 protocol error, 6 fwd busy.\n");
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
	/* unit = rules need cgroup2 where fwd runs: say so here too. */
	if (ret == 0 && fwd_cgroup_check_units(p, &d) != 0) {
		fwd_policy_free(p);
		p = NULL;
		ret = -EOPNOTSUPP;
	}
	if (o->json) {
		struct json_out j;

		json_init(&j, stdout);
		json_obj_begin(&j);
		json_key(&j, "file"); json_str(&j, path);
		json_key(&j, "valid"); json_bool(&j, ret == 0);
		if (ret == 0) {
			json_key(&j, "services"); json_uint(&j, p->nservices);
			json_key(&j, "lists"); json_uint(&j, p->nlists);
			json_key(&j, "addresses"); json_uint(&j, fwd_policy_count_addresses(p));
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
		       p->nservices, p->nlists, fwd_policy_count_addresses(p));
	} else {
		fwd_diags_print(&d, stderr);
		fprintf(stderr, "%s: %zu error%s, policy not valid\n", path, d.n,
			d.n == 1 ? "" : "s");
	}
	fwd_policy_free(p);
	fwd_diags_free(&d);
	return ret == 0 ? FWCTL_OK : FWCTL_ERR;
}

static int cmd_help(int argc, char **argv, const struct fwctl_opts *o)
{
	const struct fwd_cmdinfo *ci;
	char q[FWD_QUOTE_BUF(QWORD_MAX)];
	int words;

	if (argc < 2) {
		usage(stdout);
		return FWCTL_OK;
	}
	ci = fwd_cmd_find(argc - 1, argv + 1, &words);
	if (!ci) {
		/* "help list" lists the list commands. */
		bool any = false;

		for (unsigned i = 0; i < fwd_ncmdtab; i++) {
			if (strncmp(fwd_cmdtab[i].name, argv[1], strlen(argv[1])) == 0 &&
			    fwd_cmdtab[i].name[strlen(argv[1])] == ' ') {
				printf("usage: fwctl %s\n", fwd_cmdtab[i].usage);
				any = true;
			}
		}
		if (any)
			return FWCTL_OK;
		fprintf(stderr, "fwctl: unknown command '%s'\n", qword(q, argv[1]));
		usage(stderr);
		return FWCTL_USAGE;
	}
	printf("usage: fwctl %s\n\n%s\n", ci->usage, ci->help);
	return FWCTL_OK;
}

/* Runs here, not in fwd: most useful exactly when fwd is not running. */
static int cmd_doctor(int argc, char **argv, const struct fwctl_opts *o)
{
	struct fwd_features f;
	struct fwd_doctor *doc = NULL;
	struct fwd_nl *nl = NULL;
	int ret;

	if (argc > 1) {
		fprintf(stderr, "fwctl: usage: fwctl doctor [--json]\n");
		return FWCTL_USAGE;
	}
	ret = fwd_probe(&f);
	if (ret == 0)
		ret = fwd_nl_open(&nl);
	if (ret == 0)
		ret = fwd_doctor_read(nl, &doc);
	if (ret) {
		fprintf(stderr, "fwctl: doctor: cannot read the kernel's tables: %s%s\n",
			strerror(-ret), ret == -EPERM ? " (run as root)" : "");
		fwd_nl_close(nl);
		return FWCTL_ERR;
	}
	if (o->json) {
		/* One JSON document: {"kernel": probe, "tables": doctor}. */
		fputs("{\"kernel\":", stdout);
		fwd_features_print(&f, stdout, true);
		fputs(",\"doctor\":", stdout);
		fwd_doctor_print(doc, stdout, true);
		fputs("}\n", stdout);
	} else {
		fwd_features_print(&f, stdout, false);
		putchar('\n');
		fwd_doctor_print(doc, stdout, false);
	}
	fwd_doctor_free(doc);
	fwd_nl_close(nl);
	return FWCTL_OK;
}

/* `fwctl disable` opens the host: make a person say so. */
static bool confirm_disable(void)
{
	char line[64];

	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "fwctl: disable opens the host; from a script, pass --yes\n");
		return false;
	}
	fprintf(stderr, "This deletes fwd's table: every port of this host becomes "
		"reachable.\nType 'disable' to go on: ");
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\n")] = '\0';
	return strcmp(line, "disable") == 0;
}

static int cmd_version(int argc, char **argv, const struct fwctl_opts *o)
{
	printf("fwctl %s\n", FWD_VERSION);
	return FWCTL_OK;
}

/* Everything that is not local: send the words, print the answer. */
static int remote(int argc, char **argv, const struct fwctl_opts *o)
{
	struct fwd_request req;
	struct fwd_response resp;
	bool wants_stdin = false;
	int ret;

	fwd_request_init(&req);
	if (o->json)
		req.flags |= FWD_REQ_F_JSON;
	if (o->force)
		req.flags |= FWD_REQ_F_FORCE;
	if (isatty(STDOUT_FILENO))
		req.flags |= FWD_REQ_F_TTY;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0)
			wants_stdin = true;
		if (fwd_request_add_arg(&req, argv[i]) != 0) {
			fprintf(stderr, "fwctl: out of memory\n");
			return FWCTL_ERR;
		}
	}
	/* Batch mode reads all of stdin before connecting: fwd gives a
	 * client a few seconds to send its request, not a pipe's pace. */
	if (wants_stdin && (ret = fwd_client_read_stdin(&req, STDIN_FILENO)) != 0) {
		fprintf(stderr, "fwctl: reading standard input: %s\n", strerror(-ret));
		fwd_request_free(&req);
		return FWCTL_USAGE;
	}
	fwd_client_add_env(&req);
	fwd_client_call(fwd_ctl_socket_path(o->socket), &req, 0, &resp);
	ret = fwd_client_print(&resp, STDOUT_FILENO, STDERR_FILENO);
	fwd_response_free(&resp);
	fwd_request_free(&req);
	return ret;
}

/*
 * `fwctl log -f`: ask fwd again every 0.2 s for what came after the last
 * record printed (--after SEQ; fwd answers "next SEQ MISSED" first), so a
 * follower never sees a record twice and is told when the ring wrapped
 * past it. Polling keeps the protocol one request, one answer.
 */
static int follow_log(int argc, char **argv, const struct fwctl_opts *o)
{
	unsigned long long after = 0;
	bool first = true;

	for (;;) {
		struct fwd_request req;
		struct fwd_response resp;
		char num[32];
		const char *text, *nl;
		unsigned long long next, missed;

		fwd_request_init(&req);
		if (o->json)
			req.flags |= FWD_REQ_F_JSON;
		for (int i = 0; i < argc; i++) {
			if (strcmp(argv[i], "-f") == 0)
				continue;
			/* -n and --since choose where to start, once. */
			if (!first && (strcmp(argv[i], "-n") == 0 ||
				       strcmp(argv[i], "--since") == 0)) {
				i++;
				continue;
			}
			fwd_request_add_arg(&req, argv[i]);
		}
		snprintf(num, sizeof(num), "%llu", after);
		fwd_request_add_arg(&req, "--after");
		fwd_request_add_arg(&req, num);
		fwd_client_call(fwd_ctl_socket_path(o->socket), &req, 0, &resp);
		fwd_request_free(&req);
		text = resp.out.data ? (const char *)resp.out.data : "";
		if (resp.status != 0 || sscanf(text, "next %llu %llu", &next, &missed) != 2) {
			int ret = fwd_client_print(&resp, STDOUT_FILENO, STDERR_FILENO);

			fwd_response_free(&resp);
			return ret ? ret : FWCTL_ERR;
		}
		nl = memchr(text, '\n', resp.out.len);
		if (nl && (size_t)(nl + 1 - text) < resp.out.len)
			fwrite(nl + 1, 1, resp.out.len - (size_t)(nl + 1 - text), stdout);
		if (missed)
			fprintf(stderr, "fwctl: %llu records were overwritten before they "
				"could be read\n", missed);
		fflush(stdout);
		fwd_response_free(&resp);
		after = next;
		first = false;
		usleep(200000);
	}
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct fwctl_opts o = { 0 };
	const struct fwd_cmdinfo *ci;
	char q[FWD_QUOTE_BUF(QWORD_MAX)];
	int c, words;

	/* getopt's own messages would echo a bad option raw: ours escape it. */
	opterr = 0;
	/* Options before the command word only; the command takes the rest. */
	while ((c = getopt_long(argc, argv, "+jS:fhV", lopts, NULL)) != -1) {
		switch (c) {
		case 'j': o.json = true; break;
		case 'S': o.socket = optarg; break;
		case 'f': o.force = true; break;
		case 'h': usage(stdout); return FWCTL_OK;
		case 'V': return cmd_version(0, NULL, &o);
		default:
			if (optopt == 'S')
				fprintf(stderr, "fwctl: option '-%c' needs an argument\n", optopt);
			else if (optopt)
				fprintf(stderr, "fwctl: unknown option '-%s'\n",
					fwd_quote(q, &(char){ (char)optopt }, 1, QWORD_MAX));
			else
				fprintf(stderr, "fwctl: unknown or incomplete option '%s'\n",
					qword(q, argv[optind - 1]));
			usage(stderr);
			return FWCTL_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return FWCTL_USAGE;
	}
	argc -= optind;
	argv += optind;
	for (size_t i = 0; i < sizeof(local_commands) / sizeof(local_commands[0]); i++) {
		if (strcmp(argv[0], local_commands[i].name) == 0) {
			/* Scripts put --json anywhere. */
			for (int k = 1; k < argc; k++) {
				if (strcmp(argv[k], "--json") == 0) {
					o.json = true;
					memmove(&argv[k], &argv[k + 1], (size_t)(argc - k) * sizeof(*argv));
					argc--;
					k--;
				}
			}
			return local_commands[i].fn(argc, argv, &o);
		}
	}
	ci = fwd_cmd_find(argc, argv, &words);
	if (!ci) {
		fprintf(stderr, "fwctl: unknown command '%s'; commands are:\n",
			qword(q, argv[0]));
		for (unsigned i = 0; i < fwd_ncmdtab; i++)
			fprintf(stderr, "  %s\n", fwd_cmdtab[i].usage);
		return FWCTL_USAGE;
	}
	if (strcmp(ci->name, "log") == 0) {
		for (int k = 1; k < argc; k++)
			if (strcmp(argv[k], "-f") == 0)
				return follow_log(argc, argv, &o);
	}
	if (strcmp(ci->name, "disable") == 0) {
		bool yes = false;

		for (int k = 1; k < argc; k++)
			yes |= strcmp(argv[k], "--yes") == 0;
		if (!yes) {
			static char yes_word[] = "--yes";
			char **v;

			if (!confirm_disable()) {
				fprintf(stderr, "fwctl: not disabled\n");
				return FWCTL_ERR;
			}
			v = calloc((size_t)argc + 2, sizeof(*v));
			if (!v)
				abort();
			memcpy(v, argv, (size_t)argc * sizeof(*v));
			v[argc] = yes_word;
			return remote(argc + 1, v, &o);
		}
	}
	return remote(argc, argv, &o);
}
