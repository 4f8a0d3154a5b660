// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwd: the host firewall daemon. Compiles the policy, commits it to the
 * kernel in one transaction, and stays up to re-apply it on SIGHUP. The
 * kernel enforces the table on its own: whatever happens to this process,
 * the last committed rules stay (owner|persist table flags).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir.h"
#include "kmod.h"
#include "log.h"
#include "notify.h"
#include "policy.h"
#include "state.h"

#define FWD_DEFAULT_CONFIG "/etc/fwd/fwd.conf"
#define FWD_DEFAULT_STATE_DIR "/var/lib/fwd"

enum fwd_mode { MODE_DAEMON, MODE_ONESHOT, MODE_DRYRUN, MODE_PROBE, MODE_PRINT_DEFAULT };

struct fwd_ctx {
	const char *config;
	enum fwd_mode mode;
	bool json;
	struct fwd_nl *nl;
	struct fwd_features feat;
	unsigned generation;		/* policies committed since start */
	bool builtin;			/* running the built-in default */
	const char *state_dir;		/* last good compiled policy; "" = none */
	/* Why the running rules are not the policy file's, or NULL. */
	const char *degraded;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fwd [options]\n"
		"  -c, --config FILE   policy file (default " FWD_DEFAULT_CONFIG ";\n"
		"                      conf.d/*.conf beside it is read too)\n"
		"      --oneshot       apply the policy, exit 0 once the kernel committed it\n"
		"  -n, --dry-run       print the compiled ruleset in nft syntax, touch nothing\n"
		"      --probe         report what the kernel supports (with --json: as JSON)\n"
		"      --state-dir DIR keep the last good compiled policy here (default\n"
		"                      " FWD_DEFAULT_STATE_DIR "; \"\" for none)\n"
		"      --print-default print the built-in default policy\n"
		"  -V, --version       print the version\n"
		"  -h, --help          this text\n"
		"Without options fwd runs in the foreground: SIGHUP re-reads and re-applies,\n"
		"SIGTERM exits and leaves the rules in place.\n");
}

/*
 * Policy file -> IR. A missing main file at start means the built-in default
 * (a fresh install must come up closed, with SSH still reachable); on reload
 * a vanished file is treated as an error so a slip cannot swap policies.
 */
static int load_ir(struct fwd_ctx *ctx, bool at_start, struct fwd_ir **ir,
		   struct fwd_diags *d)
{
	struct fwd_policy *p = NULL;
	struct stat st;
	int ret;

	*ir = NULL;
	if (stat(ctx->config, &st) != 0 && errno == ENOENT && at_start) {
		ret = fwd_policy_builtin(&p);
		if (ret == 0) {
			fwd_log(LOG_NOTICE, "no policy at %s: using the built-in "
				"default (inbound deny except 22/tcp, essential ICMP, "
				"outbound allow)", ctx->config);
			ctx->builtin = true;
		}
	} else {
		ret = fwd_policy_load(ctx->config, NULL, &p, d);
		if (ret == 0)
			ctx->builtin = false;
	}
	if (ret == 0)
		ret = fwd_compile(p, ir, d);
	fwd_policy_free(p);
	if (ret && d->n == 0)
		fwd_diags_add(d, ctx->config, 0, "cannot load policy: %s",
			      strerror(-ret));
	return ret;
}

static size_t ir_elements(const struct fwd_ir *ir)
{
	size_t n = 0;

	for (size_t i = 0; i < ir->nsets; i++)
		n += ir->sets[i].n;
	return n;
}

static void save_last_good(struct fwd_ctx *ctx, const struct fwd_ir *ir)
{
	int ret;

	if (!*ctx->state_dir)
		return;
	if (mkdir(ctx->state_dir, 0700) != 0 && errno != EEXIST) {
		fwd_log(LOG_WARNING, "cannot create state directory %s: %s",
			ctx->state_dir, strerror(errno));
		return;
	}
	ret = fwd_state_save_ir(ctx->state_dir, ir);
	if (ret)
		fwd_log(LOG_WARNING, "cannot save the last good policy in %s: %s",
			ctx->state_dir, strerror(-ret));
}

/*
 * The start-up fallback when the policy file cannot be applied: the last
 * good compiled policy, else a lockdown table (loopback and established
 * connections only). Either way the host ends up closed, never open.
 */
static int apply_fallback(struct fwd_ctx *ctx)
{
	struct fwd_apply_opts ao = { 0 };
	struct fwd_policy *p = NULL;
	struct fwd_ir *ir = NULL;
	struct fwd_diags d;
	int ret = -ENOENT;

	fwd_diags_init(&d);
	if (*ctx->state_dir) {
		ret = fwd_state_load_ir(ctx->state_dir, &ir);
		if (ret == 0)
			ret = fwd_apply(ctx->nl, ir, &ctx->feat, &ao, &d);
		if (ret == 0) {
			ctx->degraded = "running the last good policy: the policy file has errors";
			fwd_log(LOG_WARNING, "degraded: applied the last good policy "
				"from %s/%s", ctx->state_dir, FWD_STATE_LAST_GOOD);
		} else if (ret != -ENOENT) {
			fwd_log(LOG_ERR, "last good policy in %s unusable: %s",
				ctx->state_dir, strerror(-ret));
			fwd_log_diags(LOG_ERR, &d);
		}
		fwd_ir_free(ir);
		ir = NULL;
	}
	if (ret != 0) {
		fwd_diags_free(&d);
		fwd_diags_init(&d);
		p = fwd_policy_new();
		ret = p ? 0 : -ENOMEM;
		if (ret == 0) {
			p->inbound = FWD_DENY;
			p->outbound = FWD_ALLOW;
			ret = fwd_compile(p, &ir, &d);
		}
		if (ret == 0)
			ret = fwd_apply(ctx->nl, ir, &ctx->feat, &ao, &d);
		if (ret == 0) {
			ctx->degraded = "lockdown: the policy file has errors and there is no last good policy";
			fwd_log(LOG_WARNING, "degraded: applied the lockdown ruleset "
				"(loopback and established connections only)");
		} else {
			fwd_log(LOG_CRIT, "cannot apply even the lockdown ruleset: %s",
				strerror(-ret));
			fwd_log_diags(LOG_CRIT, &d);
		}
		fwd_ir_free(ir);
		fwd_policy_free(p);
	}
	fwd_diags_free(&d);
	if (ret == 0)
		ctx->generation++;
	return ret;
}

/* Load, compile and commit. On any failure the kernel keeps what it had. */
static int apply_policy(struct fwd_ctx *ctx, bool at_start)
{
	struct fwd_apply_opts ao = { .no_owner = ctx->mode == MODE_ONESHOT &&
				     !ctx->feat.table_persist };
	struct fwd_diags d;
	struct fwd_ir *ir = NULL;
	int ret;

	fwd_diags_init(&d);
	ret = load_ir(ctx, at_start, &ir, &d);
	if (ret == 0)
		ret = fwd_apply(ctx->nl, ir, &ctx->feat, &ao, &d);
	if (ret == 0) {
		ctx->generation++;
		ctx->degraded = NULL;
		fwd_log(LOG_INFO, "applied %s (generation %u): %zu elements in %zu sets",
			ctx->builtin ? "built-in default" : ctx->config,
			ctx->generation, ir_elements(ir), ir->nsets);
		save_last_good(ctx, ir);
	} else {
		fwd_log(LOG_ERR, "%s failed, %s", at_start ? "apply" : "reload",
			ctx->generation ? "keeping the running rules" :
			"the kernel keeps whatever it held before");
		fwd_log_diags(LOG_ERR, &d);
	}
	fwd_ir_free(ir);
	fwd_diags_free(&d);
	return ret;
}

static int do_dry_run(struct fwd_ctx *ctx)
{
	struct fwd_render_opts ro = { 0 };
	struct fwd_diags d;
	struct fwd_ir *ir;
	int ret;

	fwd_diags_init(&d);
	ret = load_ir(ctx, true, &ir, &d);
	if (ret == 0)
		ret = fwd_ir_render(ir, &ro, stdout);
	else
		fwd_diags_print(&d, stderr);
	if (fflush(stdout) != 0)
		ret = -errno;
	fwd_ir_free(ir);
	fwd_diags_free(&d);
	return ret ? 1 : 0;
}

static int do_probe(struct fwd_ctx *ctx)
{
	int ret = fwd_probe(&ctx->feat);

	fwd_features_print(&ctx->feat, stdout, ctx->json);
	if (ret) {
		fprintf(stderr, "fwd: probe failed: %s\n", strerror(-ret));
		return 1;
	}
	return ctx->feat.nf_tables ? 0 : 1;
}

/* systemd's watchdog: ping at half the interval it asked for. */
static int watchdog_timer(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	struct itimerspec its = { 0 };
	unsigned long long us;
	int fd;

	if (!usec || !*usec)
		return -1;
	us = strtoull(usec, NULL, 10) / 2;
	if (us == 0)
		return -1;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return -1;
	its.it_interval.tv_sec = us / 1000000;
	its.it_interval.tv_nsec = (us % 1000000) * 1000;
	its.it_value = its.it_interval;
	timerfd_settime(fd, 0, &its, NULL);
	return fd;
}

static void handle_signal(struct fwd_ctx *ctx, int sfd, bool *running)
{
	struct signalfd_siginfo si;
	ssize_t r = read(sfd, &si, sizeof(si));

	if (r != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		fwd_notify("RELOADING=1");
		fwd_log(LOG_INFO, "SIGHUP: re-reading %s", ctx->config);
		apply_policy(ctx, false);
		fwd_notify("READY=1");
	} else {
		fwd_log(LOG_INFO, "signal %u: exiting; the rules stay in the kernel",
			si.ssi_signo);
		fwd_notify("STOPPING=1");
		*running = false;
	}
}

static int run_daemon(struct fwd_ctx *ctx)
{
	struct epoll_event ev, evs[8];
	int sfd, efd, wfd;
	bool running = true;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* A client that goes away mid-answer must not kill the firewall. */
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || efd < 0) {
		fwd_log(LOG_ERR, "signalfd/epoll: %s", strerror(errno));
		return 1;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = sfd };
	epoll_ctl(efd, EPOLL_CTL_ADD, sfd, &ev);
	wfd = watchdog_timer();
	if (wfd >= 0) {
		ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = wfd };
		epoll_ctl(efd, EPOLL_CTL_ADD, wfd, &ev);
	}

	if (ctx->degraded) {
		char status[256];

		snprintf(status, sizeof(status), "READY=1\nSTATUS=degraded: %s",
			 ctx->degraded);
		fwd_notify(status);
	} else {
		fwd_notify("READY=1\nSTATUS=policy applied");
	}
	while (running) {
		int n = epoll_wait(efd, evs, sizeof(evs) / sizeof(evs[0]), -1);

		if (n < 0 && errno != EINTR) {
			fwd_log(LOG_ERR, "epoll_wait: %s", strerror(errno));
			continue;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == sfd) {
				handle_signal(ctx, sfd, &running);
			} else if (fd == wfd) {
				uint64_t ticks;

				if (read(wfd, &ticks, sizeof(ticks)) > 0)
					fwd_notify("WATCHDOG=1");
			}
		}
	}
	if (wfd >= 0)
		close(wfd);
	close(efd);
	close(sfd);
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_ONESHOT = 256, OPT_PROBE, OPT_JSON, OPT_PRINT_DEFAULT, OPT_STATE_DIR };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "oneshot", no_argument, NULL, OPT_ONESHOT },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "probe", no_argument, NULL, OPT_PROBE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "print-default", no_argument, NULL, OPT_PRINT_DEFAULT },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct fwd_ctx ctx = { .config = FWD_DEFAULT_CONFIG, .mode = MODE_DAEMON,
			       .state_dir = FWD_DEFAULT_STATE_DIR };
	int c, ret;

	fwd_log_init("fwd");
	while ((c = getopt_long(argc, argv, "c:nVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': ctx.config = optarg; break;
		case 'n': ctx.mode = MODE_DRYRUN; break;
		case OPT_ONESHOT: ctx.mode = MODE_ONESHOT; break;
		case OPT_PROBE: ctx.mode = MODE_PROBE; break;
		case OPT_JSON: ctx.json = true; break;
		case OPT_PRINT_DEFAULT: ctx.mode = MODE_PRINT_DEFAULT; break;
		case OPT_STATE_DIR: ctx.state_dir = optarg; break;
		case 'V': printf("fwd %s\n", FWD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "fwd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	switch (ctx.mode) {
	case MODE_DRYRUN:
		return do_dry_run(&ctx);
	case MODE_PROBE:
		return do_probe(&ctx);
	case MODE_PRINT_DEFAULT:
		fputs(fwd_policy_builtin_text, stdout);
		return 0;
	default:
		break;
	}

	ret = fwd_probe(&ctx.feat);
	if (ret || !ctx.feat.nf_tables || !ctx.feat.inet_family) {
		fwd_log(LOG_ERR, "the kernel cannot run fwd: %s",
			ret ? strerror(-ret) : ctx.feat.detail);
		return 1;
	}
	ret = fwd_nl_open(&ctx.nl);
	if (ret) {
		fwd_log(LOG_ERR, "cannot open nf_tables netlink socket: %s",
			strerror(-ret));
		return 1;
	}
	if (apply_policy(&ctx, true) != 0) {
		/* --oneshot reports and changes nothing; the daemon must not
		 * stay down with the host in an unknown state. */
		if (ctx.mode == MODE_ONESHOT || apply_fallback(&ctx) != 0) {
			fwd_nl_close(ctx.nl);
			return 1;
		}
	}
	ret = ctx.mode == MODE_ONESHOT ? 0 : run_daemon(&ctx);
	fwd_nl_close(ctx.nl);
	return ret;
}
