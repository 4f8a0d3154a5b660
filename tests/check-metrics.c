// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Prometheus exposition renderer (daemon/metrics.c) without a kernel:
 * a view made by hand (a policy's owners with counts, a live table with
 * sets and rule counters, two queues) -> the text, whose samples are
 * checked line by line and which `promtool check metrics` must accept;
 * label values escaped as the format wants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attrib.h"
#include "metrics.h"
#include "policy.h"
#include "testutil.h"

static const char policy_text[] =
	"[list admins]\n"
	"members = 192.0.2.0/24\n"
	"\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = @admins\n"
	"\n"
	"[service dns-out]\n"
	"ports = 53/udp\n"
	"allow = 198.51.100.53\n"
	"direction = out\n"
	"\n"
	"[edits]\n"
	"deny = 80/tcp from 203.0.113.9\n"
	"allow = 8443/tcp from 203.0.113.10\n";

struct fixture {
	struct fwd_policy *p;
	struct fwd_live_table live;
	struct fwd_live_set sets[2];
	struct fwd_live_chain chain;
	struct fwd_live_counter rules[2];
	struct fwd_stats_view v;
	char *text;
	size_t len;
};

static struct fwd_own_acc *acc(struct fwd_own_map *m, enum fwd_own_kind k,
			       const char *name)
{
	for (size_t i = 0; i < m->nacc; i++)
		if (m->acc[i].kind == k && strcmp(m->acc[i].name, name) == 0)
			return &m->acc[i];
	ck_abort_msg("no owner %s", name);
	return NULL;
}

static void fixture_make(struct fixture *f)
{
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_own_map *m = &f->v.om;

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(fwd_policy_load_buffer("m.conf", policy_text,
						sizeof(policy_text) - 1, &o, &f->p, NULL), 0);
	fwd_own_init(m, f->p, NULL);
	acc(m, FWD_OWN_SERVICE, "ssh")->packets = 7;
	acc(m, FWD_OWN_SERVICE, "ssh")->bytes = 420;
	acc(m, FWD_OWN_LIST, "admins")->packets = 7;
	acc(m, FWD_OWN_SERVICE, "dns-out")->packets = 3;
	acc(m, FWD_OWN_EDIT, "deny 80/tcp from 203.0.113.9")->packets = 2;

	snprintf(f->sets[0].name, sizeof(f->sets[0].name), "allow4_net");
	f->sets[0].n = 2;
	snprintf(f->sets[1].name, sizeof(f->sets[1].name), "open");
	snprintf(f->chain.name, sizeof(f->chain.name), "input");
	f->rules[0] = (struct fwd_live_counter){ .set = "allow4_net", .rule = 9,
						 .packets = 11, .bytes = 660 };
	f->rules[1] = (struct fwd_live_counter){ .set = "", .rule = 12,
						 .packets = 1, .bytes = 60 };
	f->chain.counters = f->rules;
	f->chain.ncounters = 2;
	f->live.sets = f->sets;
	f->live.nsets = 2;
	f->live.chains = &f->chain;
	f->live.nchains = 1;

	f->v.live = &f->live;
	f->v.counters = true;
	f->v.generation = 4;
	/* What the rules did, per direction (stats' "directions"). */
	f->v.fates = true;
	f->v.dir[0].fate[FWD_FATE_DEFAULT] = (struct fwd_ir_count){ .packets = 7, .bytes = 420 };
	f->v.dir[1].fate[FWD_FATE_BLOCK] = (struct fwd_ir_count){ .packets = 2, .bytes = 120 };
	f->v.degraded = 1;
	f->v.restores = 2;
	f->v.edits_applied = 5;
	f->v.apply_ns = 1500000;	/* 1.5 ms */
	f->v.cs.served = 17;
	f->v.loop.nqueues = 2;
	f->v.loop.queues[0] = (struct fwd_vloop_qstats){ .num = 0, .bound = true,
		.queued = 100, .verdicts = 100, .by_reason = { 90, 6, 4, 0, 0 },
		.blocks = 1, .suppressed = 12, .lat_p50_ns = 250000,
		.lat_p99_ns = 2000000 };
	f->v.loop.queues[1] = (struct fwd_vloop_qstats){ .num = 1, .queued = 3,
		.verdicts = 3, .queue_dropped = 4, .user_dropped = 5,
		.verdict_errors = 0 };
}

static void render(struct fixture *f)
{
	FILE *out = open_memstream(&f->text, &f->len);

	ck_assert_ptr_nonnull(out);
	fwd_metrics_render(&f->v, out);
	fclose(out);
}

static void fixture_free(struct fixture *f)
{
	fwd_own_free(&f->v.om);
	fwd_policy_free(f->p);
	free(f->text);
}

/* The line is in the text, whole. */
static void has_line(const struct fixture *f, const char *line)
{
	const char *t = f->text;
	size_t n = strlen(line);

	for (const char *p = strstr(t, line); p; p = strstr(p + 1, line))
		if ((p == t || p[-1] == '\n') && p[n] == '\n')
			return;
	ck_abort_msg("no line '%s' in:\n%s", line, f->text);
}

/*
 * promtool: scripts/deps.sh puts it into .tools/ of the tree (Debian has
 * it only in the prometheus package, which would start a server), else
 * PATH. Missing: fails under CI=true, else a visible skip.
 */
static const char *promtool(void)
{
	static char path[4096];
	char *p = tu_src(".tools/promtool");
	bool found = access(p, X_OK) == 0;

	/* A copy of our own: the caller never frees (LeakSanitizer). */
	snprintf(path, sizeof(path), "%s", p);
	free(p);
	if (found)
		return path;
	return tu_need_prog("promtool", "prometheus (scripts/deps.sh extracts "
			    "promtool alone)") ? "promtool" : NULL;
}

/* promtool check metrics on text: its exit status and what it said. */
static int promtool_check(const char *tool, const char *text, size_t len, char **said)
{
	char path[512];
	FILE *f;

	tu_tmp(path, sizeof(path), "metrics.prom");
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	return tu_sh(said, "%s check metrics < %s", tool, path);
}

/* Every family with HELP and TYPE, every sample as the view says. */
START_TEST(test_render_samples)
{
	struct fixture f;

	fixture_make(&f);
	render(&f);
	has_line(&f, "# HELP fwd_packets_total Packets matched by allow and deny set "
		 "elements, by the service, list or fwctl edit they came from (a "
		 "list's series also counts in its user's)");
	has_line(&f, "# TYPE fwd_packets_total counter");
	has_line(&f, "fwd_packets_total{service=\"ssh\",list=\"\",edit=\"\","
		 "direction=\"in\",verdict=\"accept\"} 7");
	has_line(&f, "fwd_bytes_total{service=\"ssh\",list=\"\",edit=\"\","
		 "direction=\"in\",verdict=\"accept\"} 420");
	has_line(&f, "fwd_packets_total{service=\"dns-out\",list=\"\",edit=\"\","
		 "direction=\"out\",verdict=\"accept\"} 3");
	has_line(&f, "fwd_packets_total{service=\"\",list=\"admins\",edit=\"\","
		 "direction=\"\",verdict=\"\"} 7");
	has_line(&f, "fwd_packets_total{service=\"\",list=\"\",edit=\"deny 80/tcp "
		 "from 203.0.113.9\",direction=\"in\",verdict=\"reject\"} 2");
	has_line(&f, "fwd_packets_total{service=\"\",list=\"\",edit=\"allow 8443/tcp "
		 "from 203.0.113.10\",direction=\"in\",verdict=\"accept\"} 0");
	has_line(&f, "fwd_rule_packets_total{chain=\"input\",rule=\"9\",set=\"allow4_net\"} 11");
	has_line(&f, "fwd_rule_bytes_total{chain=\"input\",rule=\"12\",set=\"\"} 60");
	has_line(&f, "# TYPE fwd_elements gauge");
	has_line(&f, "fwd_elements{set=\"allow4_net\"} 2");
	has_line(&f, "fwd_elements{set=\"open\"} 0");
	has_line(&f, "fwd_generation 4");
	has_line(&f, "# TYPE fwd_direction_packets_total counter");
	has_line(&f, "fwd_direction_packets_total{direction=\"in\",fate=\"default_deny\"} 7");
	has_line(&f, "fwd_direction_bytes_total{direction=\"in\",fate=\"default_deny\"} 420");
	has_line(&f, "fwd_direction_packets_total{direction=\"out\",fate=\"block\"} 2");
	has_line(&f, "fwd_direction_packets_total{direction=\"in\",fate=\"accepted\"} 0");
	has_line(&f, "# TYPE fwd_apply_duration_seconds gauge");
	has_line(&f, "fwd_apply_duration_seconds 0.0015");
	has_line(&f, "fwd_degraded 1");
	has_line(&f, "# TYPE fwd_table_restores_total counter");
	has_line(&f, "fwd_table_restores_total 2");
	has_line(&f, "fwd_edits_total 5");
	has_line(&f, "fwd_control_requests_total 17");
	has_line(&f, "fwd_queue_bound{queue=\"0\"} 1");
	has_line(&f, "fwd_queue_bound{queue=\"1\"} 0");
	has_line(&f, "fwd_queue_packets_total{queue=\"0\"} 100");
	has_line(&f, "fwd_queue_verdicts_total{queue=\"1\"} 3");
	has_line(&f, "fwd_queue_verdict_errors_total{queue=\"1\"} 0");
	has_line(&f, "fwd_queue_dropped_total{queue=\"1\"} 4");
	has_line(&f, "fwd_queue_user_dropped_total{queue=\"1\"} 5");
	has_line(&f, "fwd_verdicts_total{queue=\"0\",reason=\"default_deny\"} 90");
	has_line(&f, "fwd_verdicts_total{queue=\"0\",reason=\"guard_scan\"} 6");
	has_line(&f, "fwd_verdicts_total{queue=\"0\",reason=\"guard_flood\"} 4");
	has_line(&f, "fwd_guard_blocks_total{queue=\"0\"} 1");
	has_line(&f, "fwd_log_suppressed_total{queue=\"0\"} 12");
	has_line(&f, "fwd_queue_latency_p50_seconds{queue=\"0\"} 0.00025");
	has_line(&f, "fwd_queue_latency_p99_seconds{queue=\"0\"} 0.002");
	fixture_free(&f);
}
END_TEST

/* promtool accepts the whole text: names, types, HELP, label syntax,
 * no duplicate series; with and without queues and owners. */
START_TEST(test_promtool_accepts)
{
	const char *tool = promtool();
	struct fixture f;
	char *said = NULL;
	int rc;

	if (!tool)
		return;
	fixture_make(&f);
	render(&f);
	rc = promtool_check(tool, f.text, f.len, &said);
	ck_assert_msg(rc == 0, "promtool check metrics: exit %d:\n%s\n--- text:\n%s",
		      rc, said, f.text);
	free(said);
	free(f.text);
	f.text = NULL;

	/* No loop, no element counters, no table read back. */
	fwd_own_free(&f.v.om);
	f.v.loop.nqueues = 0;
	f.v.live = NULL;
	render(&f);
	rc = promtool_check(tool, f.text, f.len, &said);
	ck_assert_msg(rc == 0, "promtool check metrics: exit %d:\n%s\n--- text:\n%s",
		      rc, said, f.text);
	free(said);
	fixture_free(&f);
}
END_TEST

/*
 * Label values: backslash, double quote and newline escaped, nothing else
 * touched; a value holding all three still parses (promtool) and reads
 * back as itself.
 */
START_TEST(test_label_escaping)
{
	const char *tool = promtool();
	char *text = NULL, *said = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct fixture f;
	int rc;

	fwd_metrics_label_value(out, "a\\b\"c\nd e/f{g}=h,");
	fclose(out);
	ck_assert_str_eq(text, "a\\\\b\\\"c\\nd e/f{g}=h,");
	free(text);

	if (!tool)
		return;
	fixture_make(&f);
	/* An owner whose name has all three (policy names cannot, but the
	 * renderer must not trust that). */
	snprintf(acc(&f.v.om, FWD_OWN_LIST, "admins")->name, FWD_EDIT_STRLEN,
		 "x\\\"y\nz");
	render(&f);
	has_line(&f, "fwd_packets_total{service=\"\",list=\"x\\\\\\\"y\\nz\",edit=\"\","
		 "direction=\"\",verdict=\"\"} 7");
	rc = promtool_check(tool, f.text, f.len, &said);
	ck_assert_msg(rc == 0, "promtool check metrics: exit %d:\n%s\n--- text:\n%s",
		      rc, said, f.text);
	free(said);
	fixture_free(&f);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("render");

	tcase_add_test(tc, test_render_samples);
	tcase_add_test(tc, test_promtool_accepts);
	tcase_add_test(tc, test_label_escaping);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(metrics_suite());
}
