// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwctl: the command administrators and scripts type. A table of
 * subcommands { name, fn, usage, help }; the table also prints the usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "cgroup.h"
#include "outbound.h"
#include "client.h"
#include "import-cmd.h"
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
static int cmd_import(int argc, char **argv, const struct fwctl_opts *o);
/* Offline, like check: ctl/import-cmd.c. */
static int cmd_import(int argc, char **argv, const struct fwctl_opts *o)
{
	return fwctl_import(argc, argv, o->force, o->json);
}

static int cmd_version(int argc, char **argv, const struct fwctl_opts *o);

/* Commands fwctl runs itself; every other row of fwd_cmdtab goes to fwd. */
static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, const struct fwctl_opts *o);
} local_commands[] = {
	{ "check", cmd_check },
	{ "doctor", cmd_doctor },
	{ "help", cmd_help },
	{ "import", cmd_import },
	{ "version", cmd_version },
};

/* A user's word in a message, control bytes escaped (\x1b): what fwctl
 * prints must not drive the terminal it prints to. */
#define QWORD_MAX 60

static const char *qword(char *buf, const char *w)
{
	return fwd_quote(buf, w, strlen(w), QWORD_MAX);
}

/* The command table as `fwctl help` lists it: name and what it is for. */
static void list_commands(FILE *out, const char *prefix)
{
	for (unsigned i = 0; i < fwd_ncmdtab; i++) {
		const struct fwd_cmdinfo *ci = &fwd_cmdtab[i];

		if (prefix && strncmp(ci->name, prefix, strlen(prefix)) != 0)
			continue;
		fprintf(out, "  %-13s %s\n", ci->name, ci->summary);
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: fwctl [-S SOCKET] [--json] COMMAND [ARGS]\n\ncommands:\n");
	list_commands(out, NULL);
	fprintf(out, "\n'fwctl help COMMAND' shows a command's words and options. The\n"
		"socket is -S PATH, else $FWD_SOCKET, else " FWD_CTL_DEFAULT_PATH ".\n"
		"Exit codes: 0 ok, 1 the request failed, 2 usage, 3 permission denied,\n"
		"4 fwd unreachable, 5 protocol error, 6 fwd busy (diff: 1 = changes).\n");
}

/*
 * With --json, stdout holds exactly one JSON document whatever happens: a
 * failure that printed nothing there gets {"error": TEXT, "exit": N}, the
 * text going to stderr as always. A failing command that answered with a
 * document of its own (check of a bad file, diff, audit --diff) keeps it.
 */
static void json_error(const char *text, size_t len, int code)
{
	struct json_out j;
	char *t;

	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	t = strndup(text, len);
	if (!t)
		abort();
	json_init(&j, stdout);
	json_obj_begin(&j);
	json_key(&j, "error"); json_str(&j, t);
	json_key(&j, "exit"); json_int(&j, code);
	json_obj_end(&j);
	json_finish(&j);
	free(t);
}

/* A failure fwctl itself finds: "fwctl: ..." on stderr, and in JSON. */
static int fail(const struct fwctl_opts *o, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(const struct fwctl_opts *o, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "fwctl: ");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", msg);
	if (o->json)
		json_error(msg, strlen(msg), code);
	return code;
}

/* fwd's answer (or the one fwctl made when fwd gave none), printed. */
static int print_response(const struct fwd_response *resp, const struct fwctl_opts *o)
{
	int ret = fwd_client_print(resp, STDOUT_FILENO, STDERR_FILENO);
	const char *out = resp->out.data ? resp->out.data : "";

	if (o->json && ret != 0 && out[strspn(out, " \t\r\n")] == '\0')
		json_error(resp->err.data ? resp->err.data : "", resp->err.len, ret);
	return ret;
}

/* A list of located messages: [{"file", "line", "message"}, ...];
 * `strip`, a prefix the text form has and the list's key says. */
static void json_diags(struct json_out *j, const struct fwd_diags *d,
		       const char *strip)
{
	json_arr_begin(j);
	for (size_t i = 0; i < d->n; i++) {
		json_obj_begin(j);
		json_key(j, "file");
		if (d->v[i].file)
			json_str(j, d->v[i].file);
		else
			json_null(j);
		json_key(j, "line"); json_uint(j, d->v[i].line);
		json_key(j, "message");
		json_str(j, strip && strncmp(d->v[i].msg, strip, strlen(strip)) == 0 ?
			 d->v[i].msg + strlen(strip) : d->v[i].msg);
		json_obj_end(j);
	}
	json_arr_end(j);
}

static int cmd_check(int argc, char **argv, const struct fwctl_opts *o)
{
	const char *path = argc > 1 ? argv[1] : FWD_DEFAULT_CONFIG;
	struct fwd_policy *p = NULL;
	struct fwd_diags d, w;
	int ret;

	if (argc > 2)
		return fail(o, FWCTL_USAGE, "usage: fwctl check [FILE] [--json]");
	fwd_diags_init(&d);
	fwd_diags_init(&w);
	ret = fwd_policy_load(path, NULL, &p, &d);
	/* unit = rules need cgroup2 where fwd runs: say so here too. */
	if (ret == 0 && fwd_cgroup_check_units(p, &d) != 0) {
		fwd_policy_free(p);
		p = NULL;
		ret = -EOPNOTSUPP;
	}
	/* Warnings (a user not in the database yet): printed (and in the
	 * JSON document's "warnings"), the policy still valid. */
	if (ret == 0) {
		fwd_owner_warnings(p, &w);
		fwd_diags_print(&w, stderr);
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
		json_diags(&j, &d, NULL);
		json_key(&j, "warnings");
		json_diags(&j, &w, "warning: ");
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
	fwd_diags_free(&w);
	return ret == 0 ? FWCTL_OK : FWCTL_ERR;
}

static void help_json(const struct fwd_cmdinfo *ci)
{
	struct json_out j;

	json_init(&j, stdout);
	json_obj_begin(&j);
	if (ci) {
		json_key(&j, "name"); json_str(&j, ci->name);
		json_key(&j, "usage"); json_str(&j, ci->usage);
		json_key(&j, "summary"); json_str(&j, ci->summary);
		json_key(&j, "help"); json_str(&j, ci->help);
	} else {
		json_key(&j, "commands");
		json_arr_begin(&j);
		for (unsigned i = 0; i < fwd_ncmdtab; i++) {
			json_obj_begin(&j);
			json_key(&j, "name"); json_str(&j, fwd_cmdtab[i].name);
			json_key(&j, "usage"); json_str(&j, fwd_cmdtab[i].usage);
			json_key(&j, "summary"); json_str(&j, fwd_cmdtab[i].summary);
			json_obj_end(&j);
		}
		json_arr_end(&j);
	}
	json_obj_end(&j);
	json_finish(&j);
}

/* Whether `word` is the first word of two-word commands ("list"). */
static bool is_group(const char *word)
{
	size_t n = strlen(word);

	for (unsigned i = 0; i < fwd_ncmdtab; i++)
		if (!strncmp(fwd_cmdtab[i].name, word, n) && fwd_cmdtab[i].name[n] == ' ')
			return true;
	return false;
}

/* An unknown command: the group's commands for "list foo", else all. */
static int unknown_command(const struct fwctl_opts *o, int argc, char **argv)
{
	char q[FWD_QUOTE_BUF(QWORD_MAX)], q2[FWD_QUOTE_BUF(QWORD_MAX)], pre[64];

	if (is_group(argv[0])) {
		snprintf(pre, sizeof(pre), "%s ", argv[0]);
		if (argc > 1)
			fail(o, FWCTL_USAGE, "unknown %s command '%s'; the %s commands are:",
			     qword(q, argv[0]), qword(q2, argv[1]), q);
		else
			fail(o, FWCTL_USAGE, "'%s' needs one of the %s commands:",
			     qword(q, argv[0]), q);
		list_commands(stderr, pre);
		return FWCTL_USAGE;
	}
	fail(o, FWCTL_USAGE, "unknown command '%s'; the commands are:", qword(q, argv[0]));
	list_commands(stderr, NULL);
	return FWCTL_USAGE;
}

static int cmd_help(int argc, char **argv, const struct fwctl_opts *o)
{
	const struct fwd_cmdinfo *ci;
	int words;

	if (argc < 2) {
		if (o->json)
			help_json(NULL);
		else
			usage(stdout);
		return FWCTL_OK;
	}
	ci = fwd_cmd_find(argc - 1, argv + 1, &words);
	if (!ci && argc == 2 && is_group(argv[1]) && !o->json) {
		/* "help list" lists the list commands with their usage. */
		size_t n = strlen(argv[1]);

		for (unsigned i = 0; i < fwd_ncmdtab; i++)
			if (!strncmp(fwd_cmdtab[i].name, argv[1], n) &&
			    fwd_cmdtab[i].name[n] == ' ')
				printf("usage: fwctl %s\n", fwd_cmdtab[i].usage);
		return FWCTL_OK;
	}
	if (!ci)
		return unknown_command(o, argc - 1, argv + 1);
	if (o->json)
		help_json(ci);
	else
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

	if (argc > 1)
		return fail(o, FWCTL_USAGE, "usage: fwctl doctor [--json]");
	ret = fwd_probe(&f);
	if (ret == 0)
		ret = fwd_nl_open(&nl);
	if (ret == 0)
		ret = fwd_doctor_read(nl, &doc);
	if (ret) {
		fwd_nl_close(nl);
		return fail(o, FWCTL_ERR, "doctor: cannot read the kernel's tables: %s%s",
			    strerror(-ret), ret == -EPERM ? " (run as root)" : "");
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

/*
 * fwd refused a broad edit for want of --yes (FWD_RESP_F_CONFIRM): a
 * person at a terminal sees why and may say yes; a script (no terminal
 * on stdin or stderr) gets the refusal as it is.
 */
enum ask { ASK_NOT_ASKED, ASK_NO, ASK_YES };

static enum ask confirm_broad(const struct fwd_response *resp)
{
	char line[64];

	if (!(resp->flags & FWD_RESP_F_CONFIRM) || !isatty(STDIN_FILENO) ||
	    !isatty(STDERR_FILENO))
		return ASK_NOT_ASKED;
	fwd_client_print(resp, STDOUT_FILENO, STDERR_FILENO);
	fprintf(stderr, "Type 'yes' to go on: ");
	if (!fgets(line, sizeof(line), stdin))
		return ASK_NO;
	line[strcspn(line, "\n")] = '\0';
	return strcmp(line, "yes") == 0 ? ASK_YES : ASK_NO;
}

static int cmd_version(int argc, char **argv, const struct fwctl_opts *o)
{
	if (o->json) {
		struct json_out j;

		json_init(&j, stdout);
		json_obj_begin(&j);
		json_key(&j, "version"); json_str(&j, FWD_VERSION);
		json_obj_end(&j);
		json_finish(&j);
	} else {
		printf("fwctl %s\n", FWD_VERSION);
	}
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
			fwd_request_free(&req);
			return fail(o, FWCTL_ERR, "out of memory");
		}
	}
	/* Batch mode reads all of stdin before connecting: fwd gives a
	 * client a few seconds to send its request, not a pipe's pace. */
	if (wants_stdin && (ret = fwd_client_read_stdin(&req, STDIN_FILENO)) != 0) {
		fwd_request_free(&req);
		return fail(o, FWCTL_USAGE, "reading standard input: %s", strerror(-ret));
	}
	fwd_client_add_env(&req);
	fwd_client_call(fwd_ctl_socket_path(o->socket), &req, 0, &resp);
	switch (confirm_broad(&resp)) {
	case ASK_NOT_ASKED:
		break;
	case ASK_NO:
		fprintf(stderr, "fwctl: not confirmed, nothing changed\n");
		ret = resp.status ? resp.status : FWCTL_ERR;
		fwd_response_free(&resp);
		fwd_request_free(&req);
		return ret;
	case ASK_YES:
		/* The same request, stdin included, now confirmed. */
		fwd_response_free(&resp);
		if (fwd_request_add_arg(&req, "--yes") != 0) {
			fprintf(stderr, "fwctl: out of memory\n");
			fwd_request_free(&req);
			return FWCTL_ERR;
		}
		fwd_client_call(fwd_ctl_socket_path(o->socket), &req, 0, &resp);
		break;
	}
	ret = print_response(&resp, o);
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
			int ret = print_response(&resp, o);

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
			/* --json may come later on the line: errors in JSON too. */
			for (int k = optind; k < argc; k++)
				o.json |= strcmp(argv[k], "--json") == 0;
			if (optopt == 'S')
				fail(&o, FWCTL_USAGE, "option '-%c' needs an argument", optopt);
			else if (optopt)
				fail(&o, FWCTL_USAGE, "unknown option '-%s'",
				     fwd_quote(q, &(char){ (char)optopt }, 1, QWORD_MAX));
			else
				fail(&o, FWCTL_USAGE, "unknown or incomplete option '%s'",
				     qword(q, argv[optind - 1]));
			usage(stderr);
			return FWCTL_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		if (o.json)
			json_error("fwctl: no command", 17, FWCTL_USAGE);
		return FWCTL_USAGE;
	}
	argc -= optind;
	argv += optind;
	/* Scripts put --json anywhere; fwd reads it from the words, and
	 * fwctl must know too: its own errors, and fwd's that come as text,
	 * are then JSON. */
	for (int k = 1; k < argc; k++)
		o.json |= strcmp(argv[k], "--json") == 0;
	for (size_t i = 0; i < sizeof(local_commands) / sizeof(local_commands[0]); i++) {
		if (strcmp(argv[0], local_commands[i].name) == 0) {
			for (int k = 1; k < argc; k++) {
				if (strcmp(argv[k], "--json") == 0) {
					memmove(&argv[k], &argv[k + 1], (size_t)(argc - k) * sizeof(*argv));
					argc--;
					k--;
				}
			}
			return local_commands[i].fn(argc, argv, &o);
		}
	}
	ci = fwd_cmd_find(argc, argv, &words);
	if (!ci)
		return unknown_command(&o, argc, argv);
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

			if (!confirm_disable())
				return fail(&o, FWCTL_ERR, "not disabled");
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
