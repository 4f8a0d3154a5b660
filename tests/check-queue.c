// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The queue step with real packets: fwd's table compiled with the queue
 * option, applied in the srv namespace of netns.c's topology, the queue
 * bound with kmod-hooks/queue.c, and packets sent from the bad and good
 * namespaces. What is checked:
 *  - summaries are exact (addresses, ports, TCP flags, interface, queue)
 *    for TCP and UDP over IPv4 and IPv6;
 *  - every packet gets exactly one verdict: the kernel holds nothing after
 *    a flush (/proc), zero verdict errors, out-of-order verdicts go one by
 *    one and a decided prefix as one batch, an accept verdict delivers;
 *  - allowed and established traffic never reaches the queue (the queue's
 *    id sequence does not move);
 *  - nobody bound, or the queue closed: denied packets are dropped while
 *    allowed traffic flows (fail closed, no bypass);
 *  - the per-source meter drops a flood from one source in the kernel:
 *    its counter and the queue account for every packet, the queue sees
 *    no more than the rate allows, an IPv6 /64 is one source;
 *  - two queues: flows are spread by hash, each flow on one queue.
 */
#include "testutil.h"
#include "netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>

#include "ir.h"
#include "kmod.h"
#include "policy.h"
#include "queue.h"

static const char policy_text[] =
	"[defaults]\n"
	"inbound = deny\n"
	"outbound = allow\n"
	"log = denied\n"
	"[service web]\n"
	"ports = 8080/tcp, 8081/udp\n"
	"allow = any\n"
	"[service admin]\n"
	"ports = 2222/tcp\n"
	"allow = " NN_GOOD4 ", " NN_GOOD6 "\n";

struct qt {
	struct nn_env env;
	struct fwd_nl *nl;
	struct fwd_ir *ir;
	struct fwd_features feat;
};

/* The table with the queue step `q` in srv; the test process stays in
 * srv. */
static void qt_up(struct qt *t, const struct fwd_ir_queue *q)
{
	struct fwd_load_opts lo = { .confd_path = "" };
	struct fwd_compile_opts co = { .queue = *q };
	struct fwd_apply_opts ao = { .no_flags = true };
	struct fwd_policy *p = NULL;
	struct fwd_diags d;
	char *path;

	memset(t, 0, sizeof(*t));
	nn_up(&t->env, true);
	nn_enter(&t->env, NN_SRV);
	path = nn_path(&t->env, "fwd.conf");
	nn_write_file(path, "%s", policy_text);
	lo.services_path = tu_src("tests/golden/services");
	fwd_diags_init(&d);
	ck_assert_int_eq(fwd_policy_load(path, &lo, &p, &d), 0);
	ck_assert_int_eq(fwd_probe(&t->feat), 0);
	ck_assert_msg(t->feat.xt_nfqueue || t->feat.native_queue,
		      "no way to queue here: %s", t->feat.detail);
	if (!t->feat.native_queue)
		co.queue.native = false;
	ck_assert_int_eq(fwd_compile_opts_at(p, 0, &co, &t->ir, &d) , 0);
	ck_assert_int_eq(fwd_nl_open(&t->nl), 0);
	if (fwd_apply(t->nl, t->ir, &t->feat, &ao, &d) != 0) {
		fwd_diags_print(&d, stderr);
		ck_abort_msg("apply of the queue table failed");
	}
	fwd_diags_free(&d);
	fwd_policy_free(p);
	free((char *)lo.services_path);
}

static void qt_down(struct qt *t)
{
	fwd_nl_close(t->nl);
	fwd_ir_free(t->ir);
	nn_down(&t->env);
}

static struct fwd_queue *bind_queue(uint16_t num)
{
	struct fwd_queue_opts o = { .maxlen = 4096, .timestamps = true };
	struct fwd_queue *q = NULL;
	int ret = fwd_queue_open(&q, num, &o);

	ck_assert_msg(ret == 0, "fwd_queue_open(%u): %s", num, strerror(-ret));
	return q;
}

/* Receive until `want` packets came or nothing came for `quiet_ms`
 * (bounded: the packets were sent before this is called). */
static size_t recv_all(struct fwd_queue *q, struct fwd_pkt *out, size_t max,
		       size_t want, int quiet_ms)
{
	struct pollfd pfd = { .fd = fwd_queue_fd(q), .events = POLLIN };
	size_t got = 0;

	while (got < max) {
		size_t n = 0;

		ck_assert_int_eq(fwd_queue_recv(q, out + got, max - got, &n), 0);
		got += n;
		if (got >= want && want)
			break;
		if (n == 0 && poll(&pfd, 1, quiet_ms) == 0)
			break;
	}
	return got;
}

/* In a child in namespace `role`: one TCP SYN (a non-blocking connect
 * from source port sport, abandoned) or one UDP datagram. */
static void send_one(struct qt *t, enum nn_role role, int family, bool tcp,
		     const char *dst, uint16_t sport, uint16_t dport)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sockaddr_storage src = { 0 }, to = { 0 };
		socklen_t len;
		int fd, one = 1;

		nn_enter(&t->env, role);
		if (family == AF_INET) {
			struct sockaddr_in *s = (void *)&src, *d = (void *)&to;

			s->sin_family = d->sin_family = AF_INET;
			s->sin_port = htons(sport);
			d->sin_port = htons(dport);
			inet_pton(AF_INET, dst, &d->sin_addr);
			len = sizeof(*d);
		} else {
			struct sockaddr_in6 *s = (void *)&src, *d = (void *)&to;

			s->sin6_family = d->sin6_family = AF_INET6;
			s->sin6_port = htons(sport);
			d->sin6_port = htons(dport);
			inet_pton(AF_INET6, dst, &d->sin6_addr);
			len = sizeof(*d);
		}
		fd = socket(family, (tcp ? SOCK_STREAM : SOCK_DGRAM) |
			    SOCK_NONBLOCK, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (void *)&src, len) != 0)
			_exit(3);
		if (tcp) {
			if (connect(fd, (void *)&to, len) != 0 &&
			    errno != EINPROGRESS)
				_exit(4);
			/* Closing a socket in SYN_SENT sends nothing more. */
			usleep(20000);
		} else if (sendto(fd, "probe", 5, 0, (void *)&to, len) != 5) {
			_exit(5);
		}
		close(fd);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "sender failed (%d)", st);
}

static void addr_is(const struct fwd_pkt *p, int family, const uint8_t *a,
		    const char *want)
{
	uint8_t w[16] = { 0 };

	ck_assert_int_eq(inet_pton(family, want, w), 1);
	ck_assert_msg(memcmp(a, w, 16) == 0, "address is not %s", want);
}

static unsigned ifindex_in_srv(const char *name)
{
	unsigned i = if_nametoindex(name);

	ck_assert_msg(i != 0, "no interface %s in srv", name);
	return i;
}

static struct fwd_queue_proc proc_of(uint16_t num)
{
	struct fwd_queue_proc pr;

	ck_assert_int_eq(fwd_queue_proc_read(num, &pr), 0);
	return pr;
}

/* Decide all, flush, and check the kernel holds nothing. */
static void drop_all(struct fwd_queue *q, const struct fwd_pkt *p, size_t n)
{
	struct fwd_queue_stats st;

	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(fwd_queue_verdict(q, p[i].id, NF_DROP), 0);
	ck_assert_int_eq(fwd_queue_flush(q), 0);
	fwd_queue_get_stats(q, &st);
	ck_assert_uint_eq(st.pending, 0);
}

/* Kernel errors for our verdicts arrive on the socket: read it. */
static void verdict_errors_zero(struct fwd_queue *q)
{
	struct fwd_queue_stats st;
	struct fwd_pkt spare[4];
	size_t n = 0;

	nn_msleep(50);
	ck_assert_int_eq(fwd_queue_recv(q, spare, 4, &n), 0);
	ck_assert_uint_eq(n, 0);
	fwd_queue_get_stats(q, &st);
	ck_assert_msg(st.verdict_errors == 0, "%llu verdict errors (last %s)",
		      (unsigned long long)st.verdict_errors,
		      strerror(st.last_verdict_error));
	ck_assert_uint_eq(st.received, st.verdicts);
	ck_assert_uint_eq(proc_of(fwd_queue_num(q)).queued, 0);
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- summaries ---- */

START_TEST(summary_exact)
{
	static const struct {
		int family;
		bool tcp;
		const char *src, *dst;
		uint16_t sport, dport;
	} pk[] = {
		{ AF_INET, true, NN_BAD4, NN_SRV4_B, 40001, 5000 },
		{ AF_INET, false, NN_BAD4, NN_SRV4_B, 40002, 5001 },
		{ AF_INET6, true, NN_BAD6, NN_SRV6_B, 40003, 5002 },
		{ AF_INET6, false, NN_BAD6, NN_SRV6_B, 40004, 5003 },
		/* allowed from good only: bad's SYN is queued */
		{ AF_INET, true, NN_BAD4, NN_SRV4_B, 40005, 2222 },
	};
	const size_t npk = sizeof(pk) / sizeof(pk[0]);
	struct fwd_ir_queue qo = { .on = true, .total = 1 };
	struct fwd_pkt got[16];
	struct fwd_queue *q;
	uint64_t t0, t1;
	struct qt t;
	unsigned vb;
	size_t n;

	if (!tu_need_root())
		return;
	qt_up(&t, &qo);
	vb = ifindex_in_srv("vb");
	q = bind_queue(0);
	/*
	 * The kernel turns receive timestamps on from a work queue, a moment
	 * after the socket asked: warm-up datagrams until one comes stamped
	 * (bounded), so that the exact packets below all are.
	 */
	for (int i = 0; i < 40; i++) {
		send_one(&t, NN_BAD, AF_INET, false, NN_SRV4_B, 39000, 4999);
		n = recv_all(q, got, 16, 1, 500);
		ck_assert_uint_eq(n, 1);
		drop_all(q, got, n);
		if (got[0].time_ns)
			break;
		nn_msleep(50);
	}
	ck_assert_msg(got[0].time_ns, "the kernel never stamped a packet");
	t0 = wall_ns();
	for (size_t i = 0; i < npk; i++)
		send_one(&t, NN_BAD, pk[i].family, pk[i].tcp, pk[i].dst,
			 pk[i].sport, pk[i].dport);
	n = recv_all(q, got, 16, npk, 500);
	t1 = wall_ns();
	/* IPv6 neighbour discovery and the like are accepted before the
	 * queue step: exactly the probes are queued, in order. */
	ck_assert_uint_eq(n, npk);
	for (size_t i = 0; i < npk; i++) {
		const struct fwd_pkt *p = &got[i];

		ck_assert_int_eq(p->family, pk[i].family);
		ck_assert_int_eq(p->proto, pk[i].tcp ? IPPROTO_TCP : IPPROTO_UDP);
		addr_is(p, pk[i].family, p->src, pk[i].src);
		addr_is(p, pk[i].family, p->dst, pk[i].dst);
		ck_assert_uint_eq(p->sport, pk[i].sport);
		ck_assert_uint_eq(p->dport, pk[i].dport);
		ck_assert_uint_eq(p->tcp_flags, pk[i].tcp ? 0x02 : 0);	/* SYN */
		/* Parsed whole, and the time is the kernel's stamp. */
		ck_assert_uint_eq(p->flags, FWD_PKT_F_TSTAMP);
		ck_assert_uint_eq(p->ifindex, vb);
		ck_assert_uint_eq(p->queue, 0);
		ck_assert_uint_ge(p->len, pk[i].tcp ? 40 : 33);
		/* Stamped on arrival: after the send began, before we read
		 * it (realtime, microseconds: allow the rounding). */
		ck_assert_msg(p->time_ns + 1000 >= t0 && p->time_ns <= t1,
			      "kernel timestamp %llu outside [%llu, %llu]",
			      (unsigned long long)p->time_ns,
			      (unsigned long long)t0, (unsigned long long)t1);
		if (i)
			ck_assert_uint_gt(p->id, got[i - 1].id);
	}
	ck_assert_uint_eq(proc_of(0).queued, npk);
	drop_all(q, got, n);
	verdict_errors_zero(q);
	fwd_queue_close(q);
	qt_down(&t);
}
END_TEST

/* ---- exactly one verdict ---- */

/*
 * Five SYNs; verdicts out of order: 4 and 2 first (each its own message:
 * 1 is still undecided), then 1, 3 and 5 (1..5 is then a decided prefix,
 * one batch per run of equal verdicts). The accepted UDP datagram reaches
 * a listener on a port the policy closes: the loop's accept is obeyed.
 * Ids never received, and ids decided twice, are refused without a
 * message, so the kernel sees no wrong id.
 */
START_TEST(verdicts_exactly_once)
{
	struct fwd_ir_queue qo = { .on = true, .total = 1 };
	struct fwd_queue_stats st;
	struct fwd_pkt got[16];
	struct fwd_queue *q;
	pid_t sink;
	char *log;
	struct qt t;
	size_t n;

	if (!tu_need_root())
		return;
	qt_up(&t, &qo);
	log = nn_listener(&t.env, "sink", "udp", 7000, &sink);
	q = bind_queue(0);
	for (uint16_t i = 0; i < 5; i++)
		send_one(&t, NN_BAD, AF_INET, true, NN_SRV4_B, 41000 + i, 6000 + i);
	n = recv_all(q, got, 16, 5, 500);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(fwd_queue_verdict(q, got[3].id, NF_DROP), 0);
	ck_assert_int_eq(fwd_queue_verdict(q, got[1].id, NF_DROP), 0);
	ck_assert_int_eq(fwd_queue_verdict(q, got[1].id, NF_ACCEPT), -ENOENT);
	ck_assert_int_eq(fwd_queue_verdict(q, got[4].id + 1000, NF_DROP), -ENOENT);
	ck_assert_int_eq(fwd_queue_verdict(q, got[0].id, 7), -EINVAL);
	ck_assert_int_eq(fwd_queue_flush(q), 0);
	/* The kernel still holds the three undecided ones. */
	ck_assert_uint_eq(proc_of(0).queued, 3);
	fwd_queue_get_stats(q, &st);
	ck_assert_uint_eq(st.verdict_msgs, 2);
	ck_assert_uint_eq(st.batch_msgs, 0);
	ck_assert_uint_eq(st.pending, 3);
	ck_assert_uint_eq(st.refused, 2);
	ck_assert_int_eq(fwd_queue_verdict(q, got[0].id, NF_DROP), 0);
	ck_assert_int_eq(fwd_queue_verdict(q, got[2].id, NF_DROP), 0);
	ck_assert_int_eq(fwd_queue_verdict(q, got[4].id, NF_DROP), 0);
	ck_assert_int_eq(fwd_queue_verdict(q, got[3].id, NF_DROP), -ENOENT);
	ck_assert_int_eq(fwd_queue_flush(q), 0);
	fwd_queue_get_stats(q, &st);
	ck_assert_uint_eq(st.verdict_msgs, 3);	/* 0..4 in one batch */
	ck_assert_uint_eq(st.batch_msgs, 1);
	ck_assert_uint_eq(st.dropped, 5);
	verdict_errors_zero(q);

	/* Mixed runs: drop, drop, accept (UDP to the sink), drop. */
	send_one(&t, NN_BAD, AF_INET, false, NN_SRV4_B, 42000, 7001);
	send_one(&t, NN_BAD, AF_INET, false, NN_SRV4_B, 42001, 7001);
	send_one(&t, NN_BAD, AF_INET, false, NN_SRV4_B, 42002, 7000);
	send_one(&t, NN_BAD, AF_INET, false, NN_SRV4_B, 42003, 7001);
	n = recv_all(q, got, 16, 4, 500);
	ck_assert_uint_eq(n, 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(fwd_queue_verdict(q, got[i].id,
						   i == 2 ? NF_ACCEPT : NF_DROP), 0);
	ck_assert_int_eq(fwd_queue_flush(q), 0);
	fwd_queue_get_stats(q, &st);
	ck_assert_uint_eq(st.accepted, 1);
	ck_assert_uint_eq(st.dropped, 8);
	verdict_errors_zero(q);
	/* The sink says how many datagrams it got when it stops. */
	nn_msleep(100);
	nn_stop(&t.env, sink, 2);
	ck_assert_msg(nn_count_in_file(log, "count 1 ") == 1,
		      "the accepted datagram did not arrive (only it): %s",
		      nn_slurp_or_empty(log));
	fwd_queue_close(q);
	qt_down(&t);
}
END_TEST

/* ---- what never reaches the queue ---- */

START_TEST(allowed_never_queued)
{
	struct fwd_ir_queue qo = { .on = true, .total = 1 };
	struct fwd_pkt got[16];
	struct nn_probes ps = { 0 };
	struct fwd_queue *q;
	struct qt t;
	size_t n;

	if (!tu_need_root())
		return;
	qt_up(&t, &qo);
	nn_listener(&t.env, "listen", "tcp", 8080, NULL);
	nn_listener(&t.env, "listen", "udp", 8081, NULL);
	nn_listener(&t.env, "listen", "tcp", 2222, NULL);
	q = bind_queue(0);
	nn_probe(&ps, NN_BAD, NN_OK, "connect tcp " NN_SRV4_B " 8080");
	nn_probe(&ps, NN_BAD, NN_OK, "connect tcp " NN_SRV6_B " 8080");
	nn_probe(&ps, NN_BAD, NN_OK, "udp " NN_SRV4_B " 8081");
	nn_probe(&ps, NN_GOOD, NN_OK, "connect tcp " NN_SRV4_G " 2222");
	nn_probe(&ps, NN_GOOD, NN_OK, "connect tcp " NN_SRV6_G " 2222");
	nn_probe(&ps, NN_GOOD, NN_OK, "ping " NN_SRV4_G);
	nn_probes_run(&t.env, &ps);
	/* Handshakes, echoes, ICMP, neighbour discovery: none queued. */
	ck_assert_uint_eq(proc_of(0).id_sequence, 0);
	n = recv_all(q, got, 16, 0, 200);
	ck_assert_uint_eq(n, 0);
	/* A denied one is (and waits for the loop: the probe times out). */
	ps.n = 0;
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 2222");
	nn_probes_run(&t.env, &ps);
	n = recv_all(q, got, 16, 1, 500);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_eq(got[0].dport, 2222);
	drop_all(q, got, n);
	verdict_errors_zero(q);
	fwd_queue_close(q);
	qt_down(&t);
}
END_TEST

/* ---- fail closed ---- */

static void fail_closed_probes(struct qt *t, const char *when)
{
	struct nn_probes ps = { 0 };

	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 2222");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV6_B " 2222");
	nn_probe(&ps, NN_BAD, NN_DROP, "udp " NN_SRV4_B " 7000");
	nn_probe(&ps, NN_BAD, NN_DROP, "udp " NN_SRV6_B " 7000");
	nn_probe(&ps, NN_BAD, NN_OK, "connect tcp " NN_SRV4_B " 8080");
	nn_probe(&ps, NN_BAD, NN_OK, "connect tcp " NN_SRV6_B " 8080");
	nn_probe(&ps, NN_GOOD, NN_OK, "connect tcp " NN_SRV4_G " 2222");
	nn_probes_run_when(&t->env, &ps, when, NULL);
}

START_TEST(fail_closed)
{
	struct fwd_ir_queue qo = { .on = true, .total = 1 };
	struct fwd_pkt got[16];
	struct fwd_queue *q;
	struct qt t;
	size_t n;

	if (!tu_need_root())
		return;
	qt_up(&t, &qo);
	nn_listener(&t.env, "listen", "tcp", 8080, NULL);
	nn_listener(&t.env, "listen", "tcp", 2222, NULL);
	/* A listener on the denied UDP port: only a bypass would reach it. */
	nn_listener(&t.env, "listen", "udp", 7000, NULL);
	fail_closed_probes(&t, "nobody bound to the queue");
	ck_assert_int_eq(fwd_queue_proc_read(0, &(struct fwd_queue_proc){ 0 }),
			 -ENOENT);

	/* Bound, packets waiting undecided, then the loop goes away: the
	 * kernel drops them, and new ones, as before. */
	q = bind_queue(0);
	send_one(&t, NN_BAD, AF_INET, false, NN_SRV4_B, 43000, 7000);
	n = recv_all(q, got, 16, 1, 500);
	ck_assert_uint_eq(n, 1);
	fwd_queue_close(q);
	ck_assert_int_eq(fwd_queue_proc_read(0, &(struct fwd_queue_proc){ 0 }),
			 -ENOENT);
	fail_closed_probes(&t, "after the queue was closed");
	qt_down(&t);
}
END_TEST

/*
 * A loop killed with SIGKILL while a packet waits for its verdict: the
 * packet is dropped, never delivered, the queue is free again, and denied
 * stays denied. While the loop lives, nobody else can take its queue.
 */
START_TEST(fail_closed_kill9)
{
	struct fwd_ir_queue qo = { .on = true, .total = 1 };
	struct fwd_queue *other = NULL;
	int pfd[2], st;
	pid_t sinkpid, loop;
	char *sink, c;
	struct qt t;

	if (!tu_need_root())
		return;
	qt_up(&t, &qo);
	nn_listener(&t.env, "listen", "tcp", 8080, NULL);
	nn_listener(&t.env, "listen", "tcp", 2222, NULL);
	sink = nn_listener(&t.env, "sink", "udp", 7001, &sinkpid);
	ck_assert_int_eq(pipe(pfd), 0);
	loop = fork();
	ck_assert_int_ge(loop, 0);
	if (loop == 0) {
		struct fwd_queue *q;
		struct fwd_pkt p;
		struct pollfd w;
		size_t n = 0;

		if (fwd_queue_open(&q, 0, NULL) != 0)
			_exit(2);
		if (write(pfd[1], "r", 1) != 1)
			_exit(3);
		w = (struct pollfd){ .fd = fwd_queue_fd(q), .events = POLLIN };
		while (n == 0) {
			poll(&w, 1, 1000);
			if (fwd_queue_recv(q, &p, 1, &n) != 0)
				_exit(4);
		}
		if (write(pfd[1], "p", 1) != 1)
			_exit(5);
		for (;;)
			pause();	/* holding the packet, no verdict */
	}
	nn_adopt(&t.env, loop);
	ck_assert_int_eq(read(pfd[0], &c, 1), 1);
	ck_assert_int_eq(c, 'r');
	/* The kernel says EPERM: the queue belongs to another socket. */
	ck_assert_int_eq(fwd_queue_open(&other, 0, NULL), -EPERM);
	send_one(&t, NN_BAD, AF_INET, false, NN_SRV4_B, 43001, 7001);
	ck_assert_int_eq(read(pfd[0], &c, 1), 1);
	ck_assert_int_eq(c, 'p');
	ck_assert_uint_eq(proc_of(0).queued, 1);
	nn_kill(&t.env, loop);
	ck_assert_int_eq(fwd_queue_proc_read(0, &(struct fwd_queue_proc){ 0 }),
			 -ENOENT);
	fail_closed_probes(&t, "after the loop was killed");
	nn_msleep(100);
	st = nn_stop(&t.env, sinkpid, 2);
	(void)st;
	ck_assert_msg(nn_count_in_file(sink, "count 0 ") == 1,
		      "the packet held by the killed loop was delivered: %s",
		      nn_slurp_or_empty(sink));
	close(pfd[0]);
	close(pfd[1]);
	qt_down(&t);
}
END_TEST

/* ---- the meter ---- */

/* Flood new UDP flows from `from` in bad; the `sent N` nettool printed. */
static long flood(struct qt *t, const char *dst, const char *from, long count,
		  double *secs)
{
	char *out = NULL;
	long sent = -1;
	char *s;
	int st;

	st = tu_sh(&out, "ip netns exec %s %s flood udp %s 9999 --count %ld "
		   "--rate 2000 --timeout 20 --from %s", t->env.ns[NN_BAD],
		   NN_NETTOOL, dst, count, from);
	ck_assert_msg(st == 0, "flood: %s", out);
	s = strstr(out, "sent ");
	ck_assert_msg(s && sscanf(s, "sent %ld secs %lf", &sent, secs) == 2,
		      "flood: %s", out);
	free(out);
	return sent;
}

/* The packets counted by the meter rule for `family` (readback). */
static uint64_t meter_count(struct qt *t, uint32_t family)
{
	const struct fwd_ir_chain *c = &t->ir->chains[FWD_CHAIN_INPUT];
	const struct fwd_live_chain *lc;
	struct fwd_live_table *lt;
	uint64_t pk = 0;
	size_t ri = (size_t)-1;

	for (size_t i = 0; i < c->n; i++)
		for (unsigned k = 0; k < c->rules[i].nm; k++)
			if (c->rules[i].m[k].kind == FWD_M_METER &&
			    c->rules[i].m[k].u32 == family)
				ri = i;
	ck_assert(ri != (size_t)-1);
	/* The meter rules are in the base chain's tail: their place there
	 * (policy/ir.h, "The chains in the kernel"). */
	{
		long *kr = calloc(c->n + 2, sizeof(*kr));
		size_t n = fwd_ir_part_rules(t->ir, c, FWD_PART_BASE, NULL, kr);
		size_t at = (size_t)-1;

		ck_assert_ptr_nonnull(kr);
		for (size_t k = 0; k < n; k++)
			if (kr[k] == (long)ri)
				at = k;
		free(kr);
		ck_assert(at != (size_t)-1);
		ri = at;
	}
	ck_assert_int_eq(fwd_live_read(t->nl, NULL, &lt), 0);
	lc = fwd_live_chain_find(lt, "input");
	ck_assert_ptr_nonnull(lc);
	for (size_t i = 0; i < lc->ncounters; i++)
		if (lc->counters[i].rule == ri)
			pk = lc->counters[i].packets;
	fwd_live_free(lt);
	return pk;
}

static size_t meter_elems(struct qt *t, const char *set)
{
	const struct fwd_live_set *ls;
	struct fwd_live_table *lt;
	size_t n;

	ck_assert_int_eq(fwd_live_read(t->nl, NULL, &lt), 0);
	ls = fwd_live_set_find(lt, set);
	ck_assert_ptr_nonnull(ls);
	n = ls->n;
	fwd_live_free(lt);
	return n;
}

/*
 * Everything sent is either dropped by the meter (its counter) or queued,
 * and what is queued stays within the rate: burst + rate * (seconds + 1).
 */
static void meter_round(struct qt *t, struct fwd_queue *q, uint32_t family,
			const char *dst, const char *from, uint64_t *metered,
			uint64_t *queued)
{
	static struct fwd_pkt got[4096];
	double secs = 0;
	long sent = flood(t, dst, from, 3000, &secs);
	size_t n = recv_all(q, got, 4096, 0, 300);
	uint64_t m = meter_count(t, family);
	double cap = t->ir->queue.burst + t->ir->queue.rate * (secs + 1);

	drop_all(q, got, n);
	ck_assert_msg(sent == 3000, "sent %ld", sent);
	*queued += n;
	ck_assert_msg(m - *metered + n == (uint64_t)sent,
		      "%s: metered %llu + queued %zu != sent %ld",
		      from, (unsigned long long)(m - *metered), n, sent);
	*metered = m;
	ck_assert_msg(n <= cap, "%s: queued %zu in %.2f s: more than the "
		      "meter allows (%.0f)", from, n, secs, cap);
	ck_assert_msg(n >= 1, "nothing queued");
}

START_TEST(meter_flood)
{
	struct fwd_ir_queue qo = { .on = true, .total = 1, .meter = true,
				   .rate = 20, .period_s = 1, .burst = 10 };
	uint64_t m4 = 0, m6 = 0, q4 = 0, q6 = 0;
	struct fwd_queue *q;
	struct fwd_queue_proc pr;
	struct qt t;

	if (!tu_need_root())
		return;
	qt_up(&t, &qo);
	/* A second host in bad's /64 (and a second IPv4 host). */
	free(nn_sh_ok("ip -n %1$s addr add 2001:db8:2::3/64 dev eth0 nodad\n"
		      "ip -n %1$s addr add 198.51.100.3/24 dev eth0",
		      t.env.ns[NN_BAD]));
	q = bind_queue(0);
	meter_round(&t, q, NFPROTO_IPV4, NN_SRV4_B, NN_BAD4, &m4, &q4);
	meter_round(&t, q, NFPROTO_IPV4, NN_SRV4_B, "198.51.100.3", &m4, &q4);
	ck_assert_uint_eq(meter_elems(&t, "meter4"), 2);
	meter_round(&t, q, NFPROTO_IPV6, NN_SRV6_B, NN_BAD6, &m6, &q6);
	meter_round(&t, q, NFPROTO_IPV6, NN_SRV6_B, "2001:db8:2::3", &m6, &q6);
	/* One /64, one meter element. */
	ck_assert_uint_eq(meter_elems(&t, "meter6"), 1);
	verdict_errors_zero(q);
	pr = proc_of(0);
	ck_assert_uint_eq(pr.queue_dropped, 0);
	ck_assert_uint_eq(pr.user_dropped, 0);
	fwd_queue_close(q);
	qt_down(&t);
}
END_TEST

static char *render_mem(const struct fwd_ir *ir)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct fwd_render_opts ro = { .now = 1 };

	ck_assert_int_eq(fwd_ir_render(ir, &ro, f), 0);
	fclose(f);
	return buf;
}

/*
 * The table read back: with the meters full of sources the kernel added,
 * it still matches the IR (only the meters' presence counts), and the
 * live table as an IR renders like the IR, queue step included.
 */
START_TEST(readback_matches)
{
	struct fwd_ir_queue qo = { .on = true, .total = 1, .meter = true,
				   .rate = 20, .period_s = 1, .burst = 10 };
	struct fwd_live_table *lt;
	struct fwd_ir *back;
	char *want, *got;
	double secs;
	bool same = false;
	struct qt t;

	if (!tu_need_root())
		return;
	qt_up(&t, &qo);
	flood(&t, NN_SRV4_B, NN_BAD4, 100, &secs);
	ck_assert_uint_eq(meter_elems(&t, "meter4"), 1);
	ck_assert_int_eq(fwd_live_matches(t.nl, t.ir, &same), 0);
	ck_assert(same);
	ck_assert_int_eq(fwd_live_read(t.nl, NULL, &lt), 0);
	ck_assert_int_eq(fwd_live_to_ir(lt, t.ir, &back), 0);
	want = render_mem(t.ir);
	got = render_mem(back);
	ck_assert_str_eq(got, want);
	ck_assert_ptr_nonnull(strstr(got, "queue num 0"));
	free(want);
	free(got);
	fwd_ir_free(back);
	fwd_live_free(lt);
	qt_down(&t);
}
END_TEST

/* flood = off: no meter, every new flow is queued. */
START_TEST(no_meter_all_queued)
{
	struct fwd_ir_queue qo = { .on = true, .total = 1 };
	static struct fwd_pkt got[4096];
	struct fwd_queue *q;
	double secs = 0;
	struct qt t;
	long sent;
	size_t n;

	if (!tu_need_root())
		return;
	qt_up(&t, &qo);
	ck_assert_uint_eq(fwd_ir_meter_sets(t.ir), 0);
	q = bind_queue(0);
	sent = flood(&t, NN_SRV4_B, NN_BAD4, 1000, &secs);
	n = recv_all(q, got, 4096, (size_t)sent, 500);
	ck_assert_uint_eq(n, (size_t)sent);
	drop_all(q, got, n);
	verdict_errors_zero(q);
	fwd_queue_close(q);
	qt_down(&t);
}
END_TEST

/* ---- several queues ---- */

/*
 * The kernel's balance (nfqueue_hash) hashes the address pair and the
 * protocol, not the ports: a source stays on one queue, and sources are
 * spread. Sixteen sources in bad, 50 new flows each.
 */
START_TEST(two_queues_balanced)
{
	struct fwd_ir_queue qo = { .on = true, .num = 3, .total = 2 };
	static struct fwd_pkt got[2][2048];
	struct fwd_queue *q[2];
	unsigned on[16][2] = { { 0 } };
	size_t n[2];
	struct qt t;
	long sent = 0;

	if (!tu_need_root())
		return;
	qt_up(&t, &qo);
	for (int i = 0; i < 16; i++)
		free(nn_sh_ok("ip -n %s addr add 198.51.100.%d/24 dev eth0",
			      t.env.ns[NN_BAD], 10 + i));
	q[0] = bind_queue(3);
	q[1] = bind_queue(4);
	for (int i = 0; i < 16; i++) {
		char from[32];
		double secs;

		snprintf(from, sizeof(from), "198.51.100.%d", 10 + i);
		sent += flood(&t, NN_SRV4_B, from, 50, &secs);
	}
	n[0] = recv_all(q[0], got[0], 2048, 0, 300);
	n[1] = recv_all(q[1], got[1], 2048, 0, 300);
	ck_assert_uint_eq(n[0] + n[1], (size_t)sent);
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < n[k]; i++) {
			unsigned host = got[k][i].src[3];

			ck_assert_uint_eq(got[k][i].queue, 3 + k);
			ck_assert(host >= 10 && host < 26);
			on[host - 10][k]++;
		}
		drop_all(q[k], got[k], n[k]);
		verdict_errors_zero(q[k]);
	}
	for (int i = 0; i < 16; i++)
		ck_assert_msg((on[i][0] == 50 && on[i][1] == 0) ||
			      (on[i][0] == 0 && on[i][1] == 50),
			      "source .%d split over the queues: %u + %u",
			      10 + i, on[i][0], on[i][1]);
	ck_assert_msg(n[0] && n[1], "16 sources all on one queue (%zu, %zu)",
		      n[0], n[1]);
	fwd_queue_close(q[0]);
	fwd_queue_close(q[1]);
	qt_down(&t);
}
END_TEST

/* The native queue expression, where the kernel has it (6.18 here is
 * built without nft_queue: then the xt path above is the one in use, and
 * this says so). */
START_TEST(native_queue)
{
	struct fwd_ir_queue qo = { .on = true, .total = 1, .native = true };
	struct fwd_pkt got[4];
	struct fwd_features f;
	struct fwd_queue *q;
	struct qt t;
	size_t n;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	ck_assert_int_eq(fwd_probe(&f), 0);
	if (!f.native_queue) {
		fprintf(stderr, "NOTE: no native queue expression in this "
			"kernel (%s); the xt NFQUEUE target was tested\n",
			f.detail);
		return;
	}
	qt_up(&t, &qo);
	ck_assert(t.ir->queue.native);
	q = bind_queue(0);
	send_one(&t, NN_BAD, AF_INET, true, NN_SRV4_B, 44000, 5000);
	n = recv_all(q, got, 4, 1, 500);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(got[0].dport, 5000);
	drop_all(q, got, n);
	verdict_errors_zero(q);
	fwd_queue_close(q);
	qt_down(&t);
}
END_TEST

/* ---- the header parser (pure, no root) ---- */

static size_t v4_hdr(uint8_t *b, uint8_t proto, uint16_t frag, unsigned ihl)
{
	memset(b, 0, ihl * 4);
	b[0] = (uint8_t)(0x40 | ihl);
	b[6] = (uint8_t)(frag >> 8);
	b[7] = (uint8_t)frag;
	b[9] = proto;
	inet_pton(AF_INET, NN_BAD4, b + 12);
	inet_pton(AF_INET, NN_SRV4_B, b + 16);
	return ihl * 4;
}

static size_t v6_hdr(uint8_t *b, uint8_t nh)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	b[6] = nh;
	inet_pton(AF_INET6, NN_BAD6, b + 8);
	inet_pton(AF_INET6, NN_SRV6_B, b + 24);
	return 40;
}

static size_t tcp_hdr(uint8_t *b, uint16_t sport, uint16_t dport, uint8_t fl)
{
	memset(b, 0, 20);
	b[0] = (uint8_t)(sport >> 8);
	b[1] = (uint8_t)sport;
	b[2] = (uint8_t)(dport >> 8);
	b[3] = (uint8_t)dport;
	b[12] = 0x50;
	b[13] = fl;
	return 20;
}

START_TEST(parse_v4)
{
	uint8_t b[128];
	struct fwd_pkt p;
	size_t n = v4_hdr(b, IPPROTO_TCP, 0, 5);

	n += tcp_hdr(b + n, 40001, 22, 0x12);
	ck_assert_int_eq(fwd_pkt_parse(b, n, &p), 0);
	ck_assert_int_eq(p.family, AF_INET);
	ck_assert_int_eq(p.proto, IPPROTO_TCP);
	addr_is(&p, AF_INET, p.src, NN_BAD4);
	addr_is(&p, AF_INET, p.dst, NN_SRV4_B);
	ck_assert_uint_eq(p.sport, 40001);
	ck_assert_uint_eq(p.dport, 22);
	ck_assert_uint_eq(p.tcp_flags, 0x12);
	ck_assert_uint_eq(p.flags, 0);
	/* Options (ihl 7): the ports move with the header length. */
	n = v4_hdr(b, IPPROTO_TCP, 0, 7);
	n += tcp_hdr(b + n, 1, 2, 0x02);
	ck_assert_int_eq(fwd_pkt_parse(b, n, &p), 0);
	ck_assert_uint_eq(p.sport, 1);
	ck_assert_uint_eq(p.dport, 2);
	/* Every truncation: addresses once the header is there, ports and
	 * flags only when their bytes are. */
	n = v4_hdr(b, IPPROTO_TCP, 0, 5);
	n += tcp_hdr(b + n, 40001, 22, 0x02);
	for (size_t len = 0; len < n; len++) {
		int r = fwd_pkt_parse(b, len, &p);

		ck_assert_int_eq(r, len < 20 ? -EINVAL : 0);
		if (len < 20) {
			ck_assert_uint_eq(p.flags, FWD_PKT_F_BAD);
			ck_assert_int_eq(p.family, 0);
			continue;
		}
		ck_assert_uint_eq(p.sport, len >= 24 ? 40001 : 0);
		ck_assert_uint_eq(p.tcp_flags, len >= 34 ? 0x02 : 0);
		ck_assert_uint_eq(p.flags, len >= 34 ? 0 : FWD_PKT_F_TRUNC);
	}
	/* A later fragment: no ports, whatever its bytes look like. */
	n = v4_hdr(b, IPPROTO_UDP, 0x0010, 5);
	n += tcp_hdr(b + n, 9, 9, 0);
	ck_assert_int_eq(fwd_pkt_parse(b, n, &p), 0);
	ck_assert_uint_eq(p.flags, FWD_PKT_F_FRAG);
	ck_assert_uint_eq(p.sport, 0);
	/* The first fragment (MF set, offset 0) has them. */
	n = v4_hdr(b, IPPROTO_UDP, 0x2000, 5);
	n += tcp_hdr(b + n, 9, 10, 0);
	ck_assert_int_eq(fwd_pkt_parse(b, n, &p), 0);
	ck_assert_uint_eq(p.dport, 10);
	/* Bad: ihl < 5, version 5, empty, NULL. */
	b[0] = 0x44;
	ck_assert_int_eq(fwd_pkt_parse(b, n, &p), -EINVAL);
	b[0] = 0x55;
	ck_assert_int_eq(fwd_pkt_parse(b, n, &p), -EINVAL);
	ck_assert_int_eq(fwd_pkt_parse(b, 0, &p), -EINVAL);
	ck_assert_int_eq(fwd_pkt_parse(NULL, 0, &p), -EINVAL);
	/* ICMP: type as dport, code as sport (guard.h, DShield's way). */
	n = v4_hdr(b, IPPROTO_ICMP, 0, 5);
	b[n] = 8;
	b[n + 1] = 3;
	ck_assert_int_eq(fwd_pkt_parse(b, n + 8, &p), 0);
	ck_assert_uint_eq(p.dport, 8);
	ck_assert_uint_eq(p.sport, 3);
}
END_TEST

START_TEST(parse_v6)
{
	uint8_t b[512];
	struct fwd_pkt p;
	size_t n = v6_hdr(b, IPPROTO_HOPOPTS);

	/* hop-by-hop (8) -> destination options (16) -> TCP */
	memset(b + n, 0, 24);
	b[n] = IPPROTO_DSTOPTS;
	b[n + 8] = IPPROTO_TCP;
	b[n + 9] = 1;
	n += 24;
	n += tcp_hdr(b + n, 40003, 443, 0x02);
	ck_assert_int_eq(fwd_pkt_parse(b, n, &p), 0);
	ck_assert_int_eq(p.family, AF_INET6);
	ck_assert_int_eq(p.proto, IPPROTO_TCP);
	addr_is(&p, AF_INET6, p.src, NN_BAD6);
	addr_is(&p, AF_INET6, p.dst, NN_SRV6_B);
	ck_assert_uint_eq(p.sport, 40003);
	ck_assert_uint_eq(p.dport, 443);
	ck_assert_uint_eq(p.tcp_flags, 0x02);
	ck_assert_uint_eq(p.flags, 0);
	for (size_t len = 0; len < n; len++) {
		ck_assert_int_eq(fwd_pkt_parse(b, len, &p), len < 40 ? -EINVAL : 0);
		if (len >= 40)
			ck_assert_uint_eq(p.flags, len >= n - 6 ? 0 : FWD_PKT_F_TRUNC);
	}
	/* Fragment header: the first fragment has ports, a later one not. */
	n = v6_hdr(b, IPPROTO_FRAGMENT);
	memset(b + n, 0, 8);
	b[n] = IPPROTO_UDP;
	b[n + 3] = 1;				/* offset 0, more fragments */
	n += 8;
	n += tcp_hdr(b + n, 5, 6, 0);
	ck_assert_int_eq(fwd_pkt_parse(b, n, &p), 0);
	ck_assert_uint_eq(p.dport, 6);
	b[42] = 0x01;				/* offset 32 */
	ck_assert_int_eq(fwd_pkt_parse(b, n, &p), 0);
	ck_assert_uint_eq(p.flags, FWD_PKT_F_FRAG);
	ck_assert_uint_eq(p.proto, IPPROTO_UDP);
	ck_assert_uint_eq(p.dport, 0);
	/* A chain longer than FWD_PKT_MAX_EXTHDR: cut, not walked. */
	n = v6_hdr(b, IPPROTO_DSTOPTS);
	for (unsigned i = 0; i < FWD_PKT_MAX_EXTHDR + 2; i++) {
		memset(b + n, 0, 8);
		b[n] = i + 1 < FWD_PKT_MAX_EXTHDR + 2 ? IPPROTO_DSTOPTS :
							 IPPROTO_TCP;
		n += 8;
	}
	n += tcp_hdr(b + n, 1, 2, 0x02);
	ck_assert_int_eq(fwd_pkt_parse(b, n, &p), 0);
	ck_assert_uint_eq(p.flags, FWD_PKT_F_TRUNC);
	ck_assert_uint_eq(p.dport, 0);
	/* An extension header whose length runs past the copy. */
	n = v6_hdr(b, IPPROTO_ROUTING);
	memset(b + n, 0, 8);
	b[n] = IPPROTO_TCP;
	b[n + 1] = 255;				/* 2 KiB */
	ck_assert_int_eq(fwd_pkt_parse(b, n + 8, &p), 0);
	ck_assert_uint_eq(p.flags, FWD_PKT_F_TRUNC);
	/* AH: length in 4-byte units + 2. */
	n = v6_hdr(b, IPPROTO_AH);
	memset(b + n, 0, 12);
	b[n] = IPPROTO_TCP;
	b[n + 1] = 1;				/* 12 bytes */
	n += 12;
	n += tcp_hdr(b + n, 7, 8, 0x10);
	ck_assert_int_eq(fwd_pkt_parse(b, n, &p), 0);
	ck_assert_uint_eq(p.dport, 8);
	ck_assert_uint_eq(p.tcp_flags, 0x10);
}
END_TEST

START_TEST(parse_proc)
{
	static const char text[] =
		"    0  12345     3 2   256     5     9     1000  1\n"
		"    7   4242     0 2   256     0     0        7  1\n"
		"garbage\n";
	struct fwd_queue_proc pr;

	ck_assert_int_eq(fwd_queue_proc_parse(text, 7, &pr), 0);
	ck_assert_uint_eq(pr.portid, 4242);
	ck_assert_uint_eq(pr.id_sequence, 7);
	ck_assert_int_eq(fwd_queue_proc_parse(text, 0, &pr), 0);
	ck_assert_uint_eq(pr.queued, 3);
	ck_assert_uint_eq(pr.copy_range, 256);
	ck_assert_uint_eq(pr.queue_dropped, 5);
	ck_assert_uint_eq(pr.user_dropped, 9);
	ck_assert_int_eq(fwd_queue_proc_parse(text, 1, &pr), -ENOENT);
	ck_assert_int_eq(fwd_queue_proc_parse("", 0, &pr), -ENOENT);
}
END_TEST

static Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, parse_v4);
	tcase_add_test(tc, parse_v6);
	tcase_add_test(tc, parse_proc);
	suite_add_tcase(s, tc);
	tc = tcase_create("queue");

	tcase_add_unchecked_fixture(tc, NULL, nn_runner_cleanup);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, summary_exact);
	tcase_add_test(tc, verdicts_exactly_once);
	tcase_add_test(tc, allowed_never_queued);
	tcase_add_test(tc, fail_closed);
	tcase_add_test(tc, fail_closed_kill9);
	tcase_add_test(tc, meter_flood);
	tcase_add_test(tc, readback_matches);
	tcase_add_test(tc, no_meter_all_queued);
	tcase_add_test(tc, two_queues_balanced);
	tcase_add_test(tc, native_queue);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return nn_run(queue_suite());
}
