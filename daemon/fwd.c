// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwd: the host firewall daemon. Compiles the policy, commits it to the
 * kernel in one transaction, serves fwctl on the control socket, and
 * re-applies on SIGHUP. The kernel enforces the table on its own: whatever
 * happens to this process, the last committed rules stay (owner|persist).
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
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "edit.h"
#include "cgwatch.h"
#include "pwwatch.h"
#include "cmd-audit.h"
#include "metrics.h"
#include "fwd.h"
#include "vloop.h"
#include "log.h"
#include "notify.h"
#include "proto.h"
#include "state.h"

#define FWD_DEFAULT_CONFIG FWD_SYSCONFDIR "/fwd/fwd.conf"
#define FWD_DEFAULT_STATE_DIR FWD_LOCALSTATEDIR "/lib/fwd"

enum fwd_mode { MODE_DAEMON, MODE_ONESHOT, MODE_DRYRUN, MODE_PROBE, MODE_PRINT_DEFAULT };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fwd [options]\n"
		"  -c, --config FILE   policy file (default " FWD_DEFAULT_CONFIG ";\n"
		"                      conf.d/*.conf beside it is read too)\n"
		"      --oneshot       apply the policy, exit 0 once the kernel committed it\n"
		"  -n, --dry-run       print the compiled ruleset in nft syntax, touch nothing\n"
		"      --probe         report what the kernel supports (with --json: as JSON)\n"
		"  -S, --socket PATH   control socket (default $FWD_SOCKET or "
		FWD_CTL_DEFAULT_PATH ")\n"
		"      --no-socket     serve no control socket\n"
		"      --no-owner      create the table without the owner flag (other\n"
		"                      processes may change it; the table guard restores it)\n"
		"      --state-dir DIR keep the last good compiled policy here (default\n"
		"                      " FWD_DEFAULT_STATE_DIR "; \"\" for none)\n"
		"      --print-default print the built-in default policy\n"
		"  -V, --version       print the version\n"
		"  -h, --help          this text\n"
		"Without options fwd runs in the foreground: SIGHUP re-reads and re-applies\n"
		"atomically, SIGTERM exits and leaves the rules in place.\n");
}

static size_t ir_elements(const struct fwd_ir *ir)
{
	size_t n = 0;

	for (size_t i = 0; ir && i < ir->nsets; i++)
		n += ir->sets[i].n;
	return n;
}

/* The errors that kept the files from applying at start: the degraded
 * state they cause names them (fwctl status), not only the log. */
#define START_ERRORS_SHOWN 10

static void keep_start_errors(struct fwd_ctx *ctx, const struct fwd_diags *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();	/* OOM policy: abort */
	for (size_t i = 0; i < d->n && i < START_ERRORS_SHOWN; i++) {
		char *line = fwd_diag_format(&d->v[i]);

		fprintf(f, "%s\n", line ? line : d->v[i].msg);
		free(line);
	}
	if (d->n > START_ERRORS_SHOWN)
		fprintf(f, "(%zu more: fwctl check lists them all)\n",
			d->n - START_ERRORS_SHOWN);
	fclose(f);
	free(ctx->degraded_errors);
	ctx->degraded_errors = d->n ? text : NULL;
	if (!d->n)
		free(text);
}

/*
 * Files -> model -> IR -> kernel, as one full atomic replace (start and
 * SIGHUP: a replace also repairs anything changed behind fwd's back), by
 * the commit path. Runtime-only edits survive a SIGHUP. On any failure the
 * kernel keeps what it had and every error is logged with its FILE:LINE.
 */
static int apply_files(struct fwd_ctx *ctx, bool at_start)
{
	struct fwd_change ch = { .src = at_start ? FWD_SRC_START : FWD_SRC_SIGHUP };
	struct fwd_diags d;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_change_commit(ctx, &ch, &d);
	if (ret == 0) {
		fwd_log(LOG_INFO, "applied %s (generation %u): %zu elements in %zu sets",
			ctx->builtin ? "built-in default" : ctx->config,
			ctx->generation, ir_elements(ctx->ir), ctx->ir->nsets);
	} else if (ch.stage == FWD_STAGE_EMPTY) {
		/* SIGHUP has no --force: the running rules stay. */
		fwd_log(LOG_ERR, "reload refused: %s", ch.why);
	} else {
		fwd_log(LOG_ERR, "%s failed, %s", at_start ? "apply" : "reload",
			ctx->generation ? "keeping the running rules" :
			"the kernel keeps whatever it held before");
		fwd_log_diags(LOG_ERR, &d);
		if (at_start)
			keep_start_errors(ctx, &d);
	}
	fwd_diags_free(&d);
	return ret;
}

/* The fallback's IR through the commit path, with the model the files
 * could give: the lockdown one (edits then build on it), or none for the
 * last good IR (model_unknown says why: edits wait for the files). */
static int commit_fallback(struct fwd_ctx *ctx, struct fwd_policy *p, struct fwd_ir *ir,
			   const char *degraded, const char *model_unknown,
			   struct fwd_diags *d)
{
	struct fwd_change ch = { .src = FWD_SRC_FALLBACK, .policy = p, .ir = ir,
				 .degraded = degraded, .model_unknown = model_unknown };

	return fwd_change_commit(ctx, &ch, d);
}

/*
 * The last good policy from the state directory, if fwd can trust it
 * (state.h: directory, ownership, mode, regular file, checksum) and it is
 * no more open than the files: one that accepts all inbound traffic is
 * applied only if what can still be read of the broken files says
 * `inbound = allow` too (then loudly); otherwise it is refused, and the
 * lockdown takes its place. *degraded: the degraded text when applied,
 * *refused: the one for the lockdown when refused.
 */
static int load_last_good(struct fwd_ctx *ctx, struct fwd_ir **out, const char **degraded,
			  const char **refused)
{
	struct fwd_ir *ir = NULL;
	char why[512];
	int ret;

	*out = NULL;
	ret = fwd_state_load_ir_why(ctx->state_dir, FWD_STATE_LAST_GOOD, &ir, why, sizeof(why));
	if (ret == -ENOENT)
		return ret;
	if (ret == -EPERM) {
		/* Not fwd's own file (or not only fwd's): never applied. */
		fwd_log(LOG_ERR, "last good policy refused: %s", why);
		*refused = "lockdown: the policy files have errors and the last good "
			   "policy was refused (see the log)";
		return ret;
	}
	if (ret) {
		fwd_log(LOG_ERR, "last good policy in %s unusable: %s", ctx->state_dir, why);
		*refused = "lockdown: the policy files have errors and the last good "
			   "policy is unusable (see the log)";
		return ret;
	}
	if (fwd_state_ir_input_open(ir)) {
		if (fwd_policy_scan_inbound(ctx->config) != FWD_ALLOW) {
			fwd_log(LOG_CRIT, "last good policy refused: %s/%s ACCEPTS ALL "
				"INBOUND TRAFFIC, and %s does not say inbound = allow",
				ctx->state_dir, FWD_STATE_LAST_GOOD, ctx->config);
			*refused = "lockdown: the policy files have errors and the last good "
				   "policy was refused: it accepts all inbound traffic, the "
				   "files do not say inbound = allow";
			fwd_ir_free(ir);
			return -EPERM;
		}
		fwd_log(LOG_CRIT, "the last good policy ACCEPTS ALL INBOUND TRAFFIC "
			"(%s says inbound = allow): applying it", ctx->config);
		*degraded = "running the last good policy, which ACCEPTS ALL INBOUND "
				"TRAFFIC (the files say inbound = allow): the policy files "
				"have errors";
	} else {
		*degraded = "running the last good policy: the policy files have errors";
	}
	*out = ir;
	return 0;
}

/*
 * Start-up fallback when the policy files cannot be applied: the last
 * good compiled policy, else a lockdown table (loopback and established
 * connections only, plus SSH from the rescue sources if any could be
 * read). Either way the host ends up closed, never open.
 */
static int apply_fallback(struct fwd_ctx *ctx)
{
	const char *refused = NULL, *degraded = NULL;
	struct fwd_policy *p = NULL;
	struct fwd_ir *ir = NULL;
	struct fwd_diags d;
	int ret = -ENOENT;

	fwd_diags_init(&d);
	if (*ctx->state_dir) {
		ret = load_last_good(ctx, &ir, &degraded, &refused);
		if (ret == 0) {
			/* An empty model: compiling it (plus an edit) would
			 * take the last good rules out of the kernel. An open
			 * last good policy (applied only when the files say
			 * so) keeps inbound = allow there, so that `fwctl
			 * show` does not claim deny. */
			p = fwd_policy_new();
			if (fwd_state_ir_input_open(ir))
				p->inbound = FWD_ALLOW;
			ret = commit_fallback(ctx, p, ir, degraded,
					      "the running rules are the last good policy "
					      "from the state directory, not compiled from "
					      "the policy files (they have errors)", &d);
			if (ret == 0) {
				fwd_log(LOG_WARNING, "degraded: applied the last good "
					"policy from %s/%s", ctx->state_dir,
					FWD_STATE_LAST_GOOD);
			} else {
				fwd_log(LOG_ERR, "last good policy in %s unusable: %s",
					ctx->state_dir, strerror(-ret));
				fwd_log_diags(LOG_ERR, &d);
			}
		}
		if (ret) {
			fwd_policy_free(p);
			p = NULL;
			fwd_ir_free(ir);
			ir = NULL;
		}
	}
	if (ret != 0) {
		fwd_diags_free(&d);
		fwd_diags_init(&d);
		ret = fwd_policy_lockdown(ctx->config, &p);
		if (ret == 0)
			ret = fwd_compile_at(p, (uint64_t)time(NULL), &ir, &d);
		if (ret == 0)
			ret = commit_fallback(ctx, p, ir, refused ? refused :
					      "lockdown: the policy files have errors and "
					      "there is no last good policy", NULL, &d);
		if (ret == 0) {
			fwd_log(LOG_WARNING, "degraded: applied the lockdown ruleset "
				"(loopback, established connections%s)",
				p->nrescue ? ", SSH from the rescue sources" : "");
		} else {
			fwd_log(LOG_CRIT, "cannot apply even the lockdown ruleset: %s",
				strerror(-ret));
			fwd_log_diags(LOG_CRIT, &d);
			fwd_policy_free(p);
			fwd_ir_free(ir);
		}
	}
	fwd_diags_free(&d);
	return ret;
}

static int do_dry_run(struct fwd_ctx *ctx)
{
	struct fwd_render_opts ro = { 0 };
	struct fwd_policy *p = NULL;
	struct fwd_ir *ir = NULL;
	struct fwd_diags d;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_load_files(ctx, true, &p, &d);
	if (ret == 0 && ctx->builtin)
		fprintf(stderr, "fwd: no policy at %s: the built-in default\n", ctx->config);
	if (ret == 0)
		ret = fwd_compile_at(p, (uint64_t)time(NULL), &ir, &d);
	if (ret == 0)
		ret = fwd_ir_render(ir, &ro, stdout);
	else
		fwd_diags_print(&d, stderr);
	if (fflush(stdout) != 0)
		ret = -errno;
	fwd_policy_free(p);
	fwd_ir_free(ir);
	fwd_diags_free(&d);
	return ret ? 1 : 0;
}

static int do_probe(struct fwd_ctx *ctx, bool json)
{
	int ret = fwd_probe(&ctx->feat);

	fwd_features_print(&ctx->feat, stdout, json);
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
	its.it_interval.tv_sec = (time_t)(us / 1000000);
	its.it_interval.tv_nsec = (long)(us % 1000000) * 1000;
	its.it_value = its.it_interval;
	timerfd_settime(fd, 0, &its, NULL);
	return fd;
}

static void handle_signal(struct fwd_ctx *ctx, int sfd, bool *running)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			fwd_notify("RELOADING=1");
			fwd_log(LOG_INFO, "SIGHUP: re-reading %s", ctx->config);
			apply_files(ctx, false);
			fwd_notify("READY=1");
		} else {
			fwd_log(LOG_INFO, "signal %u: exiting; the rules stay in the kernel",
				si.ssi_signo);
			fwd_notify("STOPPING=1");
			*running = false;
		}
	}
}

static void ctl_log(void *vctx, int prio, const char *msg)
{
	(void)vctx;
	fwd_log(prio, "control: %s", msg);
}

static int epoll_add(int efd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev);
}

static int run_daemon(struct fwd_ctx *ctx)
{
	struct epoll_event evs[8];
	int sfd, efd, wfd, cfd = -1, mret;
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
	epoll_add(efd, sfd);
	ctx->efd = efd;
	wfd = watchdog_timer();
	if (wfd >= 0)
		epoll_add(efd, wfd);
	if (ctx->confirm_tfd >= 0)
		epoll_add(efd, ctx->confirm_tfd);
	if (ctx->tidy_tfd >= 0)
		epoll_add(efd, ctx->tidy_tfd);
	if (ctx->audit_tfd >= 0)
		epoll_add(efd, ctx->audit_tfd);
	if (fwd_vloop_fd(ctx) >= 0)
		epoll_add(efd, fwd_vloop_fd(ctx));
	if (fwd_cgwatch_open(&ctx->cgw) == 0) {
		epoll_add(efd, fwd_cgwatch_fd(ctx->cgw));
		fwd_cgwatch_started(ctx);
	}
	if (fwd_pwwatch_open(&ctx->pww) == 0) {
		epoll_add(efd, fwd_pwwatch_fd(ctx->pww));
		fwd_pwwatch_started(ctx);
	}
	mret = fwd_metrics_init(ctx, efd);
	if (mret)
		fwd_log(LOG_ERR, "metrics timer: %s; [metrics] textfile is not "
			"written", strerror(-mret));
	{
		int r = fwd_monitor_open(&ctx->mon, fwd_nl_portid(ctx->nl));

		if (r == 0) {
			/* Attached, our own big commits are known by their
			 * generation and cannot look like someone else's. */
			fwd_monitor_attach(ctx->mon, ctx->nl);
			epoll_add(efd, fwd_monitor_fd(ctx->mon));
		}
		else
			fwd_log(LOG_WARNING, "table guard unavailable: %s", strerror(-r));
	}

	if (ctx->socket_path) {
		struct fwd_ctl_config cc = {
			.path = ctx->socket_path,
			.admin_group = ctx->policy ? ctx->policy->admin_group : NULL,
			.read_group = ctx->policy ? ctx->policy->read_group : NULL,
			.handler = fwd_handle_request,
			.offload = fwd_handle_offload,
			.child_init = fwd_handle_child_init,
			.fork_prepare = fwd_vloop_fork_prepare,
			.fork_done = fwd_vloop_fork_done,
			.log = ctl_log,
			.ctx = ctx,
		};
		int r = fwd_ctl_server_new(&cc, &ctx->ctl);

		if (r) {
			/* The rules are live; a missing socket only costs fwctl. */
			fwd_log(LOG_ERR, "control socket %s: %s; fwctl cannot reach "
				"this fwd", ctx->socket_path, strerror(-r));
		} else {
			cfd = fwd_ctl_server_fd(ctx->ctl);
			epoll_add(efd, cfd);
			fwd_log(LOG_INFO, "control socket at %s", ctx->socket_path);
		}
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
		int n = epoll_wait(efd, evs, sizeof(evs) / sizeof(evs[0]),
				   fwd_save_timeout_ms(ctx));

		if (n < 0 && errno != EINTR) {
			fwd_log(LOG_ERR, "epoll_wait: %s", strerror(errno));
			continue;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			uint64_t ticks;

			if (fd == sfd) {
				handle_signal(ctx, sfd, &running);
			} else if (fd == cfd) {
				fwd_ctl_server_dispatch(ctx->ctl);
			} else if (fd == wfd) {
				if (read(wfd, &ticks, sizeof(ticks)) > 0)
					fwd_notify("WATCHDOG=1");
			} else if (fd == ctx->confirm_tfd) {
				if (read(fd, &ticks, sizeof(ticks)) > 0)
					fwd_confirm_expired(ctx);
			} else if (fd == ctx->tidy_tfd) {
				if (read(fd, &ticks, sizeof(ticks)) > 0)
					fwd_tidy(ctx);
			} else if (fd == ctx->audit_tfd) {
				if (read(fd, &ticks, sizeof(ticks)) > 0)
					fwd_audit_tick(ctx);
			} else if (ctx->mon && fd == fwd_monitor_fd(ctx->mon)) {
				fwd_guard_events(ctx);
			} else if (fd == fwd_vloop_fd(ctx)) {
				fwd_vloop_blocks(ctx);
			} else if (fd == fwd_cgwatch_fd(ctx->cgw)) {
				fwd_cgwatch_events(ctx);
			} else if (fd == fwd_pwwatch_fd(ctx->pww)) {
				fwd_pwwatch_events(ctx);
			} else if (fd >= 0 && fd == fwd_audit_worker_fd(ctx)) {
				fwd_audit_done(ctx);
			} else {
				fwd_metrics_event(ctx, fd);
			}
		}
		fwd_tidy_arm(ctx);
		fwd_audit_arm(ctx);
		fwd_metrics_arm(ctx);
		fwd_save_if_due(ctx, false);
	}
	fwd_save_if_due(ctx, true);
	fwd_cgwatch_free(ctx->cgw);
	ctx->cgw = NULL;
	fwd_pwwatch_free(ctx->pww);
	ctx->pww = NULL;
	fwd_metrics_free(ctx);
	fwd_ctl_server_free(ctx->ctl);
	ctx->ctl = NULL;
	fwd_monitor_close(ctx->mon);
	ctx->mon = NULL;
	if (wfd >= 0)
		close(wfd);
	close(efd);
	close(sfd);
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_ONESHOT = 256, OPT_PROBE, OPT_JSON, OPT_PRINT_DEFAULT, OPT_STATE_DIR,
	       OPT_NO_SOCKET, OPT_NO_OWNER };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "oneshot", no_argument, NULL, OPT_ONESHOT },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "probe", no_argument, NULL, OPT_PROBE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "socket", required_argument, NULL, 'S' },
		{ "no-socket", no_argument, NULL, OPT_NO_SOCKET },
		{ "no-owner", no_argument, NULL, OPT_NO_OWNER },
		{ "print-default", no_argument, NULL, OPT_PRINT_DEFAULT },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct fwd_ctx ctx = { .config = FWD_DEFAULT_CONFIG,
			       .state_dir = FWD_DEFAULT_STATE_DIR,
			       .confirm_tfd = -1, .tidy_tfd = -1, .audit_tfd = -1,
			       .efd = -1, .follow = fwd_vloop_sync };
	enum fwd_mode mode = MODE_DAEMON;
	const char *socket_opt = NULL;
	bool json = false, no_socket = false;
	int c, ret;

	fwd_log_init("fwd");
	while ((c = getopt_long(argc, argv, "c:nS:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': ctx.config = optarg; break;
		case 'n': mode = MODE_DRYRUN; break;
		case 'S': socket_opt = optarg; break;
		case OPT_ONESHOT: mode = MODE_ONESHOT; break;
		case OPT_PROBE: mode = MODE_PROBE; break;
		case OPT_JSON: json = true; break;
		case OPT_NO_SOCKET: no_socket = true; break;
		case OPT_NO_OWNER: ctx.no_owner = true; break;
		case OPT_PRINT_DEFAULT: mode = MODE_PRINT_DEFAULT; break;
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

	switch (mode) {
	case MODE_DRYRUN:
		return do_dry_run(&ctx);
	case MODE_PROBE:
		return do_probe(&ctx, json);
	case MODE_PRINT_DEFAULT:
		fputs(fwd_policy_builtin_text, stdout);
		return 0;
	default:
		break;
	}
	ctx.oneshot = mode == MODE_ONESHOT;
	ctx.started = time(NULL);
	if (!ctx.oneshot) {
		/* From here on a SIGHUP/SIGTERM waits for the event loop: one
		 * arriving during the first apply must not kill fwd half-way
		 * (it would leave with a status that looks like a crash). */
		sigset_t mask;

		sigemptyset(&mask);
		sigaddset(&mask, SIGHUP);
		sigaddset(&mask, SIGTERM);
		sigaddset(&mask, SIGINT);
		sigprocmask(SIG_BLOCK, &mask, NULL);
	}
	if (!ctx.oneshot && !no_socket)
		ctx.socket_path = fwd_ctl_socket_path(socket_opt);

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
	/* A daemon reloads: keep its list files for the next time. */
	if (!ctx.oneshot)
		ctx.list_cache = fwd_list_cache_new();
	/* Before the first commit, which starts its workers when the table
	 * has a queue step. */
	if (!ctx.oneshot && (ret = fwd_vloop_new(&ctx)) != 0)
		fwd_log(LOG_ERR, "verdict loop unavailable: %s; queued packets "
			"are dropped", strerror(-ret));
	if (apply_files(&ctx, true) != 0) {
		/* --oneshot reports and changes nothing; the daemon must not
		 * stay down with the host in an unknown state. */
		if (ctx.oneshot || apply_fallback(&ctx) != 0) {
			fwd_vloop_free(&ctx);
			fwd_nl_close(ctx.nl);
			fwd_policy_free(ctx.policy);
			fwd_list_cache_free(ctx.list_cache);
			return 1;
		}
	}
	if (ctx.oneshot) {
		ret = 0;
	} else {
		ctx.confirm_tfd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
		ctx.tidy_tfd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
		fwd_confirm_resume(&ctx);
		ctx.audit_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		fwd_tidy_arm(&ctx);
		fwd_audit_arm(&ctx);
		ret = run_daemon(&ctx);
		if (ctx.confirm_tfd >= 0)
			close(ctx.confirm_tfd);
		if (ctx.tidy_tfd >= 0)
			close(ctx.tidy_tfd);
		if (ctx.audit_tfd >= 0)
			close(ctx.audit_tfd);
		fwd_audit_stop(&ctx);
	}
	/* Workers stop and unbind; the table and its queue rule stay, so
	 * the kernel drops what it queues from now on (fail closed). */
	fwd_vloop_free(&ctx);
	fwd_nl_close(ctx.nl);
	fwd_policy_free(ctx.policy);
	fwd_ir_free(ctx.ir);
	fwd_policy_free(ctx.confirm_policy);
	fwd_ir_free(ctx.confirm_ir);
	fwd_list_cache_free(ctx.list_cache);
	return ret;
}
