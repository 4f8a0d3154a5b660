// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Queued packets -> guard decisions -> drop verdicts, log records and
 * kernel blocks: the verdict loop's threads and the main thread's side of
 * it (vloop.h has the picture).
 */
#include "vloop.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "commit.h"
#include "ctlabel.h"
#include "diag.h"
#include "edit.h"
#include "fwd.h"
#include "guard.h"
#include "log.h"
#include "progrule.h"
#include "queue.h"
#include "sockets.h"
#include "state.h"
#include "util.h"

#define RING_RECORDS 16384u	/* about 2.5 MiB of records for fwctl log */
#define BATCH 64u		/* packets per recv, verdicts per flush */
#define POLL_MS 200		/* how soon a worker sees the stop flag */
#define LAT_BUCKETS (64 * 8)
#define PROG_LOG_PER_S 20u	/* program drop lines a second, at most */
/* The guard's blocks and why (state dir): a restarted fwd still says
 * "guard scan" rather than "fwctl" for a block it made. */
#define HELD_FILE "guard-blocks"
#define HELD_MAX (64u << 20)	/* max_blocked (1e6) lines of ~60 bytes */

/* Enqueue-to-verdict latencies: log2 buckets with 8 steps each, so a
 * percentile is known within 12.5% without keeping samples. */
struct lat_hist {
	uint64_t n;
	uint64_t b[LAT_BUCKETS];
};

/* Interface names by index: if_indextoname is a syscall, a packet's
 * budget is a few microseconds. Worker-local; a miss asks the kernel. */
#define IFCACHE 8
struct ifcache {
	uint32_t index[IFCACHE];
	char name[IFCACHE][IF_NAMESIZE];
	unsigned next;
};

struct worker {
	struct fwd_vloop *vl;
	pthread_t th;
	bool started;
	uint16_t num;
	atomic_bool stop;
	struct ifcache ifc;	/* the worker's own */
	/* A program queue's worker (FWD_PROG_QUEUE ..): decides by owner
	 * (progrule.h) with its own finder, never touches the guard. With
	 * queues by CPU (fan_total > 1) it keeps to the CPUs whose packets
	 * its queue gets: cpu % fan_total == fan_i (prog_pin). */
	bool prog;
	uint16_t fan_i, fan_total;
	struct fwd_owner_finder *of;
	/* Under vl->mu: */
	bool bound;
	struct fwd_queue_stats qst;
	uint64_t by_reason[FWD_REASON_MAX];
	uint64_t blocks, suppressed;
	struct lat_hist lat;
	uint64_t prog_by[3];	/* program decisions by fwd_prog_reason */
	/* UDP flows labelled after their accept (ctlabel.h), and the
	 * labels that failed (the flow stays queued), the last one's errno. */
	uint64_t labelled, label_errors;
	int last_label_error;
	struct fwd_ct_labeller *ctl;	/* the worker's own; NULL: none */
	/* The program worker's drop lines: at most PROG_LOG_PER_S a second
	 * (a local user's refused client can retry as fast as it likes);
	 * the rest counted and summed up in one line. Worker-local. */
	uint64_t log_sec;
	unsigned log_n;
	uint64_t log_skipped;
};

struct pending {
	struct fwd_addr src;
	uint32_t secs;
	enum fwd_reason reason;
};

/* Why a block is held: kept by the main thread only. */
struct held {
	struct fwd_addr src;
	enum fwd_reason reason;
	uint64_t expires;	/* unix seconds */
};

struct fwd_vloop {
	pthread_mutex_t mu;
	/* Under mu: */
	struct fwd_guard *guard;
	struct fwd_vlog_ring *ring;
	struct pending *pend;
	size_t npend, pend_cap;
	uint64_t last_tick_ns;
	uint64_t pend_dropped;	/* blocks the list had no room for */

	int efd;		/* eventfd: blocks pending */
	struct worker *w;
	size_t nw;
	struct fwd_ir_queue running;	/* the step the workers serve */
	/* The program queues' workers, one per queue (NULL: none), the
	 * queues they serve, and the rules they decide by (under mu;
	 * replaced whole on every new model). */
	struct worker *pw;
	size_t npw;
	struct fwd_ir_queue prun;
	struct fwd_progrules *prog;
	/* The table in force has the program rules' label accept (ir.h,
	 * FWD_M_CT_LABEL): only then is a label worth its round trip. */
	bool plabel;

	/* Main thread only. */
	struct held *held;
	size_t nheld, held_cap;
	struct fwd_vloop_bstats bst;
	/* The running guard's knobs (gp.never points at never), to tell
	 * whether a new model changed [guard]; tuned: set from a model. */
	struct fwd_guard_params gp;
	struct fwd_addr *never;
	bool tuned;
};

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- latency histogram ---- */

static unsigned lat_bucket(uint64_t v)
{
	unsigned msb;

	if (v < 8)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	return msb * 8 + (unsigned)((v >> (msb - 3)) & 7);
}

static uint64_t lat_value(unsigned b)
{
	unsigned msb = b / 8;

	if (b < 8)
		return b;
	return (1ull << msb) | ((uint64_t)(b & 7) << (msb - 3));
}

static uint64_t lat_pct(const struct lat_hist *h, unsigned pct)
{
	uint64_t want, seen = 0;

	if (!h->n)
		return 0;
	want = (h->n * pct + 99) / 100;
	for (unsigned i = 0; i < LAT_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			return lat_value(i);
	}
	return 0;
}

/* ---- the guard ---- */

/* The knobs of p's [guard] (the defaults without one); *never is the
 * caller's to free. */
static void guard_params(const struct fwd_policy *p, struct fwd_guard_params *gp,
			 struct fwd_addr **never)
{
	*never = NULL;
	fwd_guard_params_default(gp);
	if (p && p->guard.on)
		fwd_guard_params_from_policy(p, gp, never);
	else
		/* No [guard], no queue step: nothing is decided, so no
		 * table worth its memory (it is resident, guard.c). */
		gp->capacity = 64;
}

static struct fwd_guard *guard_make(const struct fwd_guard_params *knobs)
{
	struct fwd_guard_params gp = *knobs;

	/* A sender must not be able to aim at one bucket of the table. */
	if (getrandom(gp.seed, sizeof(gp.seed), 0) != (ssize_t)sizeof(gp.seed)) {
		fwd_log(LOG_WARNING, "%s: getrandom: %s; seeding from the clock",
			__func__, strerror(errno));
		gp.seed[0] = clock_ns(CLOCK_REALTIME);
		gp.seed[1] = clock_ns(CLOCK_MONOTONIC) ^ (uint64_t)getpid();
	}
	return fwd_guard_new(&gp);
}

/* ---- the worker ---- */

static void log_record(const struct fwd_vlog_rec *r)
{
	char src[INET6_ADDRSTRLEN] = "-", dst[INET6_ADDRSTRLEN] = "-";

	if (r->family) {
		inet_ntop(r->family, r->src, src, sizeof(src));
		inet_ntop(r->family, r->dst, dst, sizeof(dst));
	}
	/* key=value, so the journal (or syslog) line is machine-readable. */
	fwd_log(LOG_INFO, "verdict=drop reason=\"%s\" in=%s proto=%u src=%s sport=%u "
		"dst=%s dport=%u flags=0x%02x count=%u policy=%s",
		fwd_reason_name((enum fwd_reason)r->reason), r->in[0] ? r->in : "-",
		r->proto, src, r->sport, dst, r->dport, r->tcp_flags, r->count,
		r->policy[0] ? r->policy : "-");
}

/* What decide or tick asked for, under vl->mu; the records to write out
 * (after unlocking) go to logs[*nlogs]. Returns whether blocks were queued. */
static bool take_acts(struct fwd_vloop *vl, struct worker *w,
		      const struct fwd_acts *acts, struct fwd_vlog_rec *logs,
		      size_t *nlogs, size_t maxlogs)
{
	bool wake = false;

	for (size_t i = 0; i < acts->n; i++) {
		const struct fwd_act *a = &acts->a[i];

		switch (a->kind) {
		case FWD_ACT_LOG:
			fwd_vlog_push(vl->ring, &a->rec);
			if (*nlogs < maxlogs)
				logs[(*nlogs)++] = a->rec;
			break;
		case FWD_ACT_BLOCK:
			if (w)
				w->blocks++;
			if (vl->npend >= 65536) {
				vl->pend_dropped++;
				break;
			}
			FWD_GROW(vl->pend, vl->pend_cap, vl->npend + 1);
			vl->pend[vl->npend++] = (struct pending){
				.src = a->src, .secs = a->secs, .reason = a->reason,
			};
			wake = true;
			break;
		case FWD_ACT_CAP:
			fwd_log(LOG_ERR, "guard: max_blocked reached: %u sources "
				"blocked, %llu new blocks refused", a->blocked,
				(unsigned long long)a->refused);
			break;
		}
	}
	return wake;
}

static void ifname_fill(struct ifcache *c, struct fwd_pkt *p)
{
	unsigned k;

	if (!p->ifindex)
		return;
	for (k = 0; k < IFCACHE; k++)
		if (c->index[k] == p->ifindex)
			break;
	if (k == IFCACHE) {
		k = c->next++ % IFCACHE;
		if (!if_indextoname(p->ifindex, c->name[k]))
			snprintf(c->name[k], IF_NAMESIZE, "if%u", p->ifindex);
		c->index[k] = p->ifindex;
	}
	memcpy(p->ifname, c->name[k], FWD_PKT_IFNAMSIZ);
}

static void worker_batch(struct worker *w, struct fwd_queue *q,
			 struct fwd_pkt *pk, size_t n)
{
	struct fwd_vloop *vl = w->vl;
	struct fwd_vlog_rec logs[BATCH * FWD_GUARD_ACTS];	/* every record a batch can give */
	size_t nlogs = 0;
	uint64_t now = clock_ns(CLOCK_MONOTONIC), wall = clock_ns(CLOCK_REALTIME);
	bool wake = false;

	for (size_t i = 0; i < n; i++)
		ifname_fill(&w->ifc, &pk[i]);
	pthread_mutex_lock(&vl->mu);
	for (size_t i = 0; i < n; i++) {
		struct fwd_guard_stats before, after;
		struct fwd_acts acts = { 0 };

		if (!(pk[i].flags & FWD_PKT_F_TSTAMP))
			pk[i].time_ns = wall;
		fwd_guard_stats(vl->guard, &before);
		fwd_guard_decide(vl->guard, &pk[i], now, &acts);
		fwd_guard_stats(vl->guard, &after);
		for (int r = 0; r < FWD_REASON_MAX; r++)
			w->by_reason[r] += after.by_reason[r] - before.by_reason[r];
		w->suppressed += after.suppressed - before.suppressed;
		wake |= take_acts(vl, w, &acts, logs, &nlogs,
				  sizeof(logs) / sizeof(logs[0]));
	}
	pthread_mutex_unlock(&vl->mu);

	/* Exactly one verdict per packet, and it is always drop: the static
	 * rules would drop these packets anyway (guard.h). */
	for (size_t i = 0; i < n; i++)
		fwd_queue_verdict(q, pk[i].id, NF_DROP);
	fwd_queue_flush(q);

	wall = clock_ns(CLOCK_REALTIME);
	pthread_mutex_lock(&vl->mu);
	for (size_t i = 0; i < n; i++) {
		if (!(pk[i].flags & FWD_PKT_F_TSTAMP) || pk[i].time_ns > wall)
			continue;
		w->lat.b[lat_bucket(wall - pk[i].time_ns)]++;
		w->lat.n++;
	}
	fwd_queue_get_stats(q, &w->qst);
	pthread_mutex_unlock(&vl->mu);
	if (wake) {
		uint64_t one = 1;

		if (write(vl->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			fwd_log(LOG_ERR, "%s: eventfd: %s", __func__, strerror(errno));
	}
	for (size_t i = 0; i < nlogs; i++)
		log_record(&logs[i]);
}

/* ---- the program queue (outbound.h: program =) ---- */

static void addr_port(const struct fwd_pkt *p, const uint8_t *a, uint16_t port,
		      char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(p->family, a, ip, sizeof(ip));
	snprintf(buf, len, p->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
}

/* A program drop, on stderr (the journal). Accepts are only counted
 * (fwctl status): a program rule lets out thousands of flows a second,
 * and a line each would cost more than the decision. */
static void prog_log(const struct fwd_pkt *p, const struct fwd_prog_owner *o,
		     const struct fwd_prog_verdict *v, const char *rule)
{
	char src[64], dst[64];

	addr_port(p, p->src, p->sport, src, sizeof(src));
	addr_port(p, p->dst, p->dport, dst, sizeof(dst));
	fwd_log(v->accept ? LOG_INFO : LOG_NOTICE, "program %s: reason=%s "
		"proto=%u src=%s dst=%s pid=%u uid=%u exe_dev=%llu exe_ino=%llu "
		"rule=%s", v->accept ? "accept" : "drop",
		fwd_prog_reason_name(v->reason), p->proto, src, dst,
		o->known ? o->pid : 0, o->known ? o->uid : 0,
		(unsigned long long)o->exe.dev, (unsigned long long)o->exe.ino,
		rule[0] ? rule : "-");
}

/*
 * After the accepts went out (the entries are confirmed by then, see
 * ctlabel.h): label the UDP flows among them, so that their later
 * datagrams pass the label accept in the kernel instead of coming here.
 * A UDP flow stays `new` until its peer answers; a TCP flow is
 * established by the SYN-ACK and never needs it. Drops are not labelled:
 * a refused flow's next datagram is decided (and logged) again. A failed
 * label costs nothing but that: the flow keeps being queued.
 */
static void prog_label(struct worker *w, const struct fwd_pkt *pk,
		       const struct fwd_prog_verdict *v, size_t n)
{
	struct fwd_ct_flow f[FWD_CT_LABEL_MAX];
	int err[FWD_CT_LABEL_MAX];
	unsigned done = 0;
	size_t k = 0;
	int ret;

	for (size_t i = 0; i < n && k < FWD_CT_LABEL_MAX; i++) {
		bool seen = false;

		if (!v[i].accept || pk[i].proto != IPPROTO_UDP ||
		    (pk[i].flags & (FWD_PKT_F_BAD | FWD_PKT_F_TRUNC | FWD_PKT_F_FRAG)))
			continue;
		f[k] = (struct fwd_ct_flow){ .family = (uint8_t)pk[i].family,
					     .proto = IPPROTO_UDP,
					     .sport = pk[i].sport,
					     .dport = pk[i].dport };
		memcpy(f[k].src, pk[i].src, sizeof(f[k].src));
		memcpy(f[k].dst, pk[i].dst, sizeof(f[k].dst));
		/* Datagrams that raced their flow's label (sent while the
		 * first one was being decided) come in a run: one update
		 * per flow and batch. */
		for (size_t j = 0; j < k && !seen; j++)
			seen = memcmp(&f[j], &f[k], sizeof(f[k])) == 0;
		if (!seen)
			k++;
	}
	if (!k)
		return;
	ret = fwd_ct_label_flows(w->ctl, f, k, FWD_CT_LABEL_BIT, &done, err);
	pthread_mutex_lock(&w->vl->mu);
	w->labelled += done;
	w->label_errors += k - done;
	for (size_t i = 0; i < k && !ret; i++)
		if (err[i])
			w->last_label_error = -err[i];
	if (ret)
		w->last_label_error = -ret;
	pthread_mutex_unlock(&w->vl->mu);
}

/*
 * The owners first, outside the lock (sock_diag and /proc take time; the
 * guard's workers must not wait for them), then the decisions under it,
 * then exactly one verdict per packet: accept only what a rule names.
 */
static void prog_batch(struct worker *w, struct fwd_queue *q,
		       struct fwd_pkt *pk, size_t n)
{
	struct fwd_vloop *vl = w->vl;
	struct fwd_prog_owner own[BATCH];
	struct fwd_prog_verdict v[BATCH];
	char rule[BATCH][96];
	bool label;

	for (size_t i = 0; i < n; i++) {
		struct fwd_sock_owner so;
		int ret = -ENOENT;

		if (w->of && !(pk[i].flags & (FWD_PKT_F_BAD | FWD_PKT_F_TRUNC)))
			ret = fwd_owner_find(w->of, pk[i].family, pk[i].proto,
					     pk[i].src, pk[i].sport, pk[i].dst,
					     pk[i].dport, &so);
		own[i] = (struct fwd_prog_owner){ .known = ret == 0 };
		if (ret == 0) {
			own[i].pid = so.pid;
			own[i].uid = so.uid;
			own[i].exe = (struct fwd_prog_id){ so.exe_dev, so.exe_ino };
		}
	}
	pthread_mutex_lock(&vl->mu);
	label = vl->plabel && w->ctl;
	for (size_t i = 0; i < n; i++) {
		const struct fwd_progrule *r;

		fwd_prog_decide(vl->prog, &pk[i], &own[i], &v[i]);
		w->prog_by[v[i].reason]++;
		rule[i][0] = '\0';
		/* Only drops are logged: an accept needs no rule text. */
		if (v[i].rule < 0 || v[i].accept)
			continue;
		r = &vl->prog->r[v[i].rule];
		snprintf(rule[i], sizeof(rule[i]), "%s:%d(%s)",
			 r->loc.file ? r->loc.file : "-", r->loc.line, r->path);
	}
	pthread_mutex_unlock(&vl->mu);
	for (size_t i = 0; i < n; i++)
		fwd_queue_verdict(q, pk[i].id, v[i].accept ? NF_ACCEPT : NF_DROP);
	/* Only once the verdicts were sent: before, the entries are not
	 * in the table yet. */
	if (fwd_queue_flush(q) == 0 && label)
		prog_label(w, pk, v, n);
	pthread_mutex_lock(&vl->mu);
	fwd_queue_get_stats(q, &w->qst);
	pthread_mutex_unlock(&vl->mu);
	for (size_t i = 0; i < n; i++) {
		uint64_t sec = clock_ns(CLOCK_MONOTONIC) / 1000000000ull;

		if (v[i].accept)
			continue;
		if (sec != w->log_sec) {
			if (w->log_skipped)
				fwd_log(LOG_NOTICE, "program drop: %llu more drops "
					"not logged (at most %u lines a second)",
					(unsigned long long)w->log_skipped,
					PROG_LOG_PER_S);
			w->log_sec = sec;
			w->log_n = 0;
			w->log_skipped = 0;
		}
		if (w->log_n++ < PROG_LOG_PER_S)
			prog_log(&pk[i], &own[i], &v[i], rule[i]);
		else
			w->log_skipped++;
	}
}

/* About once a second, from whichever worker gets there: the summaries and
 * cap notices that are due also when no packet comes. */
static void worker_tick(struct worker *w)
{
	struct fwd_vloop *vl = w->vl;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	struct fwd_vlog_rec logs[FWD_GUARD_ACTS];
	size_t nlogs = 0;
	bool wake = false;

	pthread_mutex_lock(&vl->mu);
	if (now - vl->last_tick_ns >= 1000000000ull) {
		struct fwd_acts acts = { 0 };

		vl->last_tick_ns = now;
		fwd_guard_tick(vl->guard, now, clock_ns(CLOCK_REALTIME), &acts);
		wake = take_acts(vl, NULL, &acts, logs, &nlogs, FWD_GUARD_ACTS);
	}
	pthread_mutex_unlock(&vl->mu);
	if (wake) {
		uint64_t one = 1;

		(void)!write(vl->efd, &one, sizeof(one));
	}
	for (size_t i = 0; i < nlogs; i++)
		log_record(&logs[i]);
}

static void set_bound(struct worker *w, bool on)
{
	pthread_mutex_lock(&w->vl->mu);
	w->bound = on;
	pthread_mutex_unlock(&w->vl->mu);
}

/*
 * A program worker on the CPUs whose packets its queue gets (the kernel
 * picks queue FWD_PROG_QUEUE + cpu % total, the CPU where the client's
 * connect() queued the SYN), among those fwd may run on: the decision
 * and the SYN's reinjection in the verdict then run on the client's CPU,
 * with no wake-up across CPUs. Where none is allowed (fwd's own affinity)
 * the worker stays where the scheduler puts it: slower, still correct.
 */
static void prog_pin(struct worker *w)
{
	cpu_set_t allowed, want;
	int n = 0, ret;

	if (w->fan_total < 2 ||
	    sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return;
	CPU_ZERO(&want);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed) && c % w->fan_total == w->fan_i) {
			CPU_SET(c, &want);
			n++;
		}
	ret = n ? pthread_setaffinity_np(pthread_self(), sizeof(want), &want) :
		  ENOENT;
	if (ret)
		fwd_log(LOG_WARNING, "verdict loop: queue %u: not kept to its "
			"CPUs (%s); its decisions may wait for another CPU",
			w->num, strerror(ret));
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	/* The program queue's latency is the client's connect(): it needs
	 * no kernel stamps (SO_TIMESTAMP costs every packet, host-wide). */
	struct fwd_queue_opts o = { .timestamps = !w->prog };
	struct fwd_queue *q = NULL;
	struct fwd_pkt pk[BATCH];
	int last_err = 0;

	if (w->prog)
		prog_pin(w);
	while (!atomic_load(&w->stop)) {
		struct pollfd pfd;
		size_t n = 0;
		int ret;

		if (!q) {
			/* Another process may hold the queue (a dying fwd's
			 * socket): try again; meanwhile the kernel drops. */
			ret = fwd_queue_open(&q, w->num, &o);
			if (ret) {
				if (ret != last_err)
					fwd_log(LOG_ERR, "verdict loop: queue %u: %s; "
						"retrying (queued packets are dropped)",
						w->num, strerror(-ret));
				last_err = ret;
				q = NULL;
				usleep(500000);
				continue;
			}
			last_err = 0;
			set_bound(w, true);
			fwd_log(LOG_INFO, "verdict loop: bound queue %u", w->num);
		}
		/* The program worker waits inside the receive call: its
		 * packets come one per new connection, and each wake-up's
		 * system calls are the connect()'s latency. */
		if (w->prog) {
			ret = 1;
		} else {
			pfd = (struct pollfd){ .fd = fwd_queue_fd(q), .events = POLLIN };
			ret = poll(&pfd, 1, POLL_MS);
		}
		if (ret > 0) {
			ret = w->prog ? fwd_queue_recv_wait(q, pk, BATCH, &n, POLL_MS) :
					fwd_queue_recv(q, pk, BATCH, &n);
			if (ret) {
				fwd_log(LOG_ERR, "verdict loop: queue %u: %s; rebinding",
					w->num, strerror(-ret));
				set_bound(w, false);
				fwd_queue_close(q);
				q = NULL;
				continue;
			}
			if (n && w->prog)
				prog_batch(w, q, pk, n);
			else if (n)
				worker_batch(w, q, pk, n);
		}
		if (!w->prog)
			worker_tick(w);
	}
	set_bound(w, false);
	/* Unbinding drops what is still queued: fail closed. */
	fwd_queue_close(q);
	return NULL;
}

static void workers_stop(struct fwd_vloop *vl)
{
	for (size_t i = 0; i < vl->nw; i++)
		atomic_store(&vl->w[i].stop, true);
	for (size_t i = 0; i < vl->nw; i++)
		if (vl->w[i].started)
			pthread_join(vl->w[i].th, NULL);
	free(vl->w);
	vl->w = NULL;
	vl->nw = 0;
	memset(&vl->running, 0, sizeof(vl->running));
}

static void workers_start(struct fwd_vloop *vl, const struct fwd_ir_queue *q)
{
	vl->w = fwd_xcalloc(q->total, sizeof(*vl->w));
	vl->nw = q->total;
	vl->running = *q;
	for (size_t i = 0; i < vl->nw; i++) {
		struct worker *w = &vl->w[i];
		int ret;

		w->vl = vl;
		w->num = (uint16_t)(q->num + i);
		atomic_init(&w->stop, false);
		ret = pthread_create(&w->th, NULL, worker_main, w);
		if (ret)
			fwd_log(LOG_ERR, "verdict loop: thread for queue %u: %s; its "
				"packets are dropped", w->num, strerror(ret));
		else
			w->started = true;
	}
	fwd_log(LOG_INFO, "verdict loop: %u worker%s on queue%s %u-%u",
		q->total, q->total == 1 ? "" : "s", q->total == 1 ? "" : "s",
		q->num, q->num + q->total - 1);
}

/* stat of a rule's path: the identity it has from now on (progrule.h). */
static int prog_resolve(void *arg, const char *path, struct fwd_prog_id *id)
{
	struct stat st;

	(void)arg;
	if (stat(path, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*id = (struct fwd_prog_id){ (uint64_t)st.st_dev, (uint64_t)st.st_ino };
	return 0;
}

/*
 * A new model: its program rules resolved now, replacing the old ones.
 * They come from the IR in force (ir.h, prog_text), not from the model:
 * the last good policy applied at start from the state directory has no
 * model, but its IR carries its rules. Text that does not read gives no
 * rules: every program flow is dropped (fail closed), and said.
 */
static void prog_renew(struct fwd_ctx *ctx)
{
	struct fwd_vloop *vl = ctx->vloop;
	struct fwd_progrules *rs = NULL, *old;
	unsigned bad;

	if (fwd_progrules_from_text(ctx->ir ? ctx->ir->prog_text : NULL,
				    prog_resolve, NULL, &rs, &bad) != 0) {
		fwd_log(LOG_ERR, "%s: the program rules of the running policy do "
			"not read (line %u); program flows are dropped", __func__,
			bad);
		fwd_progrules_new(NULL, NULL, NULL, &rs);
	}
	for (size_t i = 0; i < rs->n; i++)
		if (rs->r[i].resolved)
			fwd_log(LOG_WARNING, "%s:%d: program '%s': %s; no process "
				"matches this rule until a reload finds it",
				rs->r[i].loc.file ? rs->r[i].loc.file : "-",
				rs->r[i].loc.line, rs->r[i].path,
				strerror(-rs->r[i].resolved));
	pthread_mutex_lock(&vl->mu);
	old = vl->prog;
	vl->prog = rs;
	pthread_mutex_unlock(&vl->mu);
	fwd_progrules_free(old);
}

/* Whether ir's output chain has the program rules' label accept (a last
 * good policy saved before it existed does not). */
static bool ir_has_label(const struct fwd_ir *ir)
{
	const struct fwd_ir_chain *ch;

	if (!ir || ir->nchains <= FWD_CHAIN_OUTPUT)
		return false;
	ch = &ir->chains[FWD_CHAIN_OUTPUT];
	for (size_t i = 0; i < ch->n; i++)
		for (unsigned k = 0; k < ch->rules[i].nm && k < FWD_IR_MAX_MATCH; k++)
			if (ch->rules[i].m[k].kind == FWD_M_CT_LABEL &&
			    ch->rules[i].verdict == FWD_V_ACCEPT)
				return true;
	return false;
}

static void prog_stop(struct fwd_vloop *vl)
{
	if (!vl->pw)
		return;
	for (size_t i = 0; i < vl->npw; i++)
		atomic_store(&vl->pw[i].stop, true);
	for (size_t i = 0; i < vl->npw; i++) {
		if (vl->pw[i].started)
			pthread_join(vl->pw[i].th, NULL);
		fwd_owner_finder_free(vl->pw[i].of);
		fwd_ct_labeller_free(vl->pw[i].ctl);
	}
	free(vl->pw);
	vl->pw = NULL;
	vl->npw = 0;
	memset(&vl->prun, 0, sizeof(vl->prun));
}

/* A worker per program queue, each with its own queue socket and finder:
 * they share only the rules and the counters, under vl->mu. A queue whose
 * worker is not there drops its packets (no bypass). */
static void prog_start(struct fwd_vloop *vl, const struct fwd_ir_queue *q)
{
	vl->npw = q->total ? q->total : 1;
	vl->pw = fwd_xcalloc(vl->npw, sizeof(*vl->pw));
	vl->prun = *q;
	for (size_t i = 0; i < vl->npw; i++) {
		struct worker *w = &vl->pw[i];
		int ret;

		w->vl = vl;
		w->num = (uint16_t)(q->num + i);
		w->prog = true;
		w->fan_i = (uint16_t)i;
		w->fan_total = q->fanout ? (uint16_t)vl->npw : 0;
		atomic_init(&w->stop, false);
		/* Without a finder every owner is unknown: all dropped,
		 * logged. */
		ret = fwd_owner_finder_new(&w->of);
		if (ret)
			fwd_log(LOG_ERR, "verdict loop: program queue %u: sock_diag: "
				"%s; program rules let nothing out", w->num,
				strerror(-ret));
		/* Without a labeller every datagram of a UDP flow comes
		 * here (slower, still decided). */
		ret = fwd_ct_labeller_new(&w->ctl);
		if (ret)
			fwd_log(LOG_ERR, "verdict loop: program queue %u: ctnetlink: "
				"%s; UDP flows are decided datagram by datagram",
				w->num, strerror(-ret));
		ret = pthread_create(&w->th, NULL, worker_main, w);
		if (ret)
			fwd_log(LOG_ERR, "verdict loop: thread for queue %u: %s; its "
				"packets are dropped", w->num, strerror(ret));
		else
			w->started = true;
	}
	if (vl->npw == 1)
		fwd_log(LOG_INFO, "verdict loop: program rules on queue %u", q->num);
	else
		fwd_log(LOG_INFO, "verdict loop: program rules on queues %u-%u, "
			"by CPU", q->num, q->num + (unsigned)vl->npw - 1);
}

/* ---- the main thread's side ---- */

int fwd_vloop_prog_explain(struct fwd_ctx *ctx, int family, const uint8_t *dst,
			   uint8_t proto, uint16_t port, const char *path,
			   struct fwd_loc *loc)
{
	struct fwd_vloop *vl = ctx->vloop;
	struct fwd_prog_owner own = { .known = true };
	struct fwd_prog_verdict v;
	struct fwd_pkt p = { .family = (uint8_t)family, .proto = proto,
			     .dport = port };
	int ret;

	if (!vl)
		return -ENOTCONN;
	ret = prog_resolve(NULL, path, &own.exe);
	if (ret)
		return ret;
	memcpy(p.dst, dst, family == AF_INET ? 4 : 16);
	pthread_mutex_lock(&vl->mu);
	fwd_prog_decide(vl->prog, &p, &own, &v);
	if (v.accept)
		*loc = vl->prog->r[v.rule].loc;
	pthread_mutex_unlock(&vl->mu);
	return v.accept;
}

static void held_load(struct fwd_ctx *ctx);

int fwd_vloop_new(struct fwd_ctx *ctx)
{
	struct fwd_vloop *vl = fwd_xcalloc(1, sizeof(*vl));

	vl->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vl->efd < 0) {
		int err = -errno;

		free(vl);
		return err;
	}
	pthread_mutex_init(&vl->mu, NULL);
	vl->ring = fwd_vlog_ring_new(RING_RECORDS);
	guard_params(ctx->policy, &vl->gp, &vl->never);
	vl->guard = guard_make(&vl->gp);
	ctx->vloop = vl;
	held_load(ctx);
	return 0;
}

void fwd_vloop_free(struct fwd_ctx *ctx)
{
	struct fwd_vloop *vl = ctx->vloop;

	if (!vl)
		return;
	workers_stop(vl);
	prog_stop(vl);
	fwd_progrules_free(vl->prog);
	fwd_guard_free(vl->guard);
	fwd_vlog_ring_free(vl->ring);
	free(vl->pend);
	free(vl->held);
	free(vl->never);
	close(vl->efd);
	pthread_mutex_destroy(&vl->mu);
	free(vl);
	ctx->vloop = NULL;
}

int fwd_vloop_fd(const struct fwd_ctx *ctx)
{
	return ctx->vloop ? ctx->vloop->efd : -1;
}

static bool same_addr(const struct fwd_addr *a, const struct fwd_addr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->a, b->a, a->family == AF_INET ? 4 : 16) == 0;
}

/* The held list is sorted by address, so `fwctl list blocked` of
 * max_blocked (100000) blocks looks each one up in O(log n). */
static int addr_cmp(const struct fwd_addr *a, const struct fwd_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	return memcmp(a->a, b->a, a->family == AF_INET ? 4 : 16);
}

/* Where a is, or where it would go. */
static size_t held_pos(const struct fwd_vloop *vl, const struct fwd_addr *a)
{
	size_t lo = 0, hi = vl->nheld;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr_cmp(&vl->held[mid].src, a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct held *held_find(const struct fwd_vloop *vl, const struct fwd_addr *a)
{
	size_t i = held_pos(vl, a);

	return i < vl->nheld && addr_cmp(&vl->held[i].src, a) == 0 ? &vl->held[i] : NULL;
}

/* Expired ones out: the list is as long as the blocks held. */
static void held_prune(struct fwd_vloop *vl)
{
	uint64_t now = (uint64_t)time(NULL);
	size_t k = 0;

	for (size_t i = 0; i < vl->nheld; i++)
		if (vl->held[i].expires > now)
			vl->held[k++] = vl->held[i];
	vl->nheld = k;
}

static void held_put(struct fwd_vloop *vl, const struct fwd_addr *a,
		     enum fwd_reason r, uint64_t expires)
{
	size_t i = held_pos(vl, a);

	if (i == vl->nheld || addr_cmp(&vl->held[i].src, a) != 0) {
		FWD_GROW(vl->held, vl->held_cap, vl->nheld + 1);
		memmove(&vl->held[i + 1], &vl->held[i],
			(vl->nheld - i) * sizeof(*vl->held));
		vl->nheld++;
		vl->held[i].src = *a;
	}
	vl->held[i].reason = r;
	vl->held[i].expires = expires;
}

/* The file's word for a reason, and back. */
static const char *held_word(enum fwd_reason r)
{
	return r == FWD_REASON_FLOOD ? "flood" : "scan";
}

/*
 * Save the held list (state dir, HELD_FILE): one "ADDR REASON UNTIL" line
 * per block, written atomically like every state file. Best effort: a
 * failure costs the reasons after a restart ("fwctl" instead of "guard
 * scan"), never a block, so it is logged and fwd goes on.
 */
static void held_save(struct fwd_ctx *ctx)
{
	struct fwd_vloop *vl = ctx->vloop;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	if (!*ctx->state_dir)
		return;
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	fprintf(f, "# fwd: the verdict loop's guard blocks: address reason until\n");
	for (size_t i = 0; i < vl->nheld; i++) {
		char a[FWD_ADDR_STRLEN];

		fwd_addr_format(&vl->held[i].src, a, sizeof(a));
		fprintf(f, "%s %s %llu\n", a, held_word(vl->held[i].reason),
			(unsigned long long)vl->held[i].expires);
	}
	if (fclose(f) != 0) {
		free(buf);
		return;
	}
	ret = fwd_write_atomic(ctx->state_dir, HELD_FILE, buf, len, 0600);
	if (ret)
		fwd_log(LOG_ERR, "%s: %s/%s: %s; the reasons of guard blocks are not "
			"kept across a restart", __func__, ctx->state_dir, HELD_FILE,
			strerror(-ret));
	free(buf);
}

/* The held list of the last run. A line that does not read is skipped
 * and named (FILE:LINE); expired ones are left out. */
static void held_load(struct fwd_ctx *ctx)
{
	struct fwd_vloop *vl = ctx->vloop;
	uint64_t now = (uint64_t)time(NULL);
	char why[256], *text, *line, *save = NULL;
	unsigned lineno = 0;
	size_t len;
	int ret;

	if (!*ctx->state_dir)
		return;
	ret = fwd_state_read_file(ctx->state_dir, HELD_FILE, HELD_MAX, &text, &len,
				  why, sizeof(why));
	if (ret) {
		if (ret != -ENOENT)
			fwd_log(LOG_WARNING, "%s: %s; guard blocks of the last run are "
				"listed as \"fwctl\"", __func__, why);
		return;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char addr[FWD_ADDR_STRLEN], word[16], awhy[128];
		unsigned long long until;
		struct fwd_addr a;

		lineno++;
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%63s %15s %llu", addr, word, &until) != 3 ||
		    (strcmp(word, "scan") && strcmp(word, "flood")) ||
		    fwd_addr_parse(addr, &a, awhy, sizeof(awhy)) != 0) {
			fwd_log(LOG_WARNING, "%s/%s:%u: not \"ADDRESS scan|flood UNTIL\"; "
				"skipped", ctx->state_dir, HELD_FILE, lineno);
			continue;
		}
		if (until > now)
			held_put(vl, &a, strcmp(word, "flood") ? FWD_REASON_SCAN :
				 FWD_REASON_FLOOD, until);
	}
	free(text);
}

/* The live block edit of exactly addr, or -1. */
static ssize_t block_edit(const struct fwd_policy *p, const struct fwd_addr *a,
			  uint64_t now)
{
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->kind == FWD_EDIT_BLOCK && same_addr(&e->addr, a) &&
		    (!e->expires || e->expires > now))
			return (ssize_t)i;
	}
	return -1;
}

/* The guard blocks the model still has as block edits (a restarted fwd's
 * state file may name blocks lifted while it was down, a reload may have
 * lost some with a hand-edited edits file): the rest go, from the running
 * guard too, which a reload may keep. */
static void held_keep_edits(struct fwd_ctx *ctx)
{
	struct fwd_vloop *vl = ctx->vloop;
	uint64_t now = (uint64_t)time(NULL);
	size_t k = 0;

	if (!ctx->policy || ctx->model_unknown)
		return;
	pthread_mutex_lock(&vl->mu);
	for (size_t i = 0; i < vl->nheld; i++) {
		if (vl->held[i].expires > now &&
		    block_edit(ctx->policy, &vl->held[i].src, now) >= 0)
			vl->held[k++] = vl->held[i];
		else
			fwd_guard_unblock(vl->guard, &vl->held[i].src);
	}
	pthread_mutex_unlock(&vl->mu);
	if (k != vl->nheld) {
		vl->nheld = k;
		held_save(ctx);
	}
}

/*
 * The guard follows a new model. When [guard] is what it was (a reload,
 * SIGHUP, a restart's first commit with the defaults), the running guard
 * stays, every source's window with it: a scanner half-way to the
 * threshold stays half-way; only the policy lines its records name
 * follow. Otherwise a new guard, the blocks it made restored (so
 * max_blocked and extensions count them).
 */
static void guard_renew(struct fwd_ctx *ctx)
{
	struct fwd_vloop *vl = ctx->vloop;
	struct fwd_guard_params gp;
	struct fwd_addr *never;
	struct fwd_guard *g, *old;
	uint64_t now = (uint64_t)time(NULL), mono = clock_ns(CLOCK_MONOTONIC);
	bool restore = !vl->tuned;

	guard_params(ctx->policy, &gp, &never);
	held_keep_edits(ctx);
	vl->tuned = true;
	pthread_mutex_lock(&vl->mu);
	if (fwd_guard_same(vl->guard, &gp)) {
		fwd_guard_set_locs(vl->guard, &gp);
		/* The first model after start: the blocks of the last run. */
		for (size_t i = 0; restore && i < vl->nheld; i++)
			fwd_guard_restore(vl->guard, &vl->held[i].src, vl->held[i].reason,
					  (uint32_t)(vl->held[i].expires - now), mono);
		pthread_mutex_unlock(&vl->mu);
		free(never);
		return;
	}
	pthread_mutex_unlock(&vl->mu);
	g = guard_make(&gp);
	for (size_t i = 0; i < vl->nheld; i++)
		fwd_guard_restore(g, &vl->held[i].src, vl->held[i].reason,
				  (uint32_t)(vl->held[i].expires - now), mono);
	pthread_mutex_lock(&vl->mu);
	old = vl->guard;
	vl->guard = g;
	pthread_mutex_unlock(&vl->mu);
	fwd_guard_free(old);
	free(vl->never);
	vl->never = never;
	vl->gp = gp;
	vl->gp.never = never;
}

void fwd_vloop_sync(struct fwd_ctx *ctx, bool new_model)
{
	struct fwd_vloop *vl = ctx->vloop;
	struct fwd_ir_queue want = { 0 };

	if (!vl)
		return;
	if (new_model)
		guard_renew(ctx);
	/* Program rules: resolved again with every new model (a reload is
	 * how a replaced binary gets its rule back); the worker runs while
	 * the table queues to it. */
	if (new_model || !vl->prog)
		prog_renew(ctx);
	pthread_mutex_lock(&vl->mu);
	vl->plabel = ir_has_label(ctx->ir);
	pthread_mutex_unlock(&vl->mu);
	if (ctx->ir && ctx->ir->prog.on && !ctx->disabled) {
		struct fwd_ir_queue pq = fwd_ir_prog_queue(ctx->ir);

		/* Rebound only when the queues changed (another CPU count
		 * in a last good policy, or none by CPU any more). */
		if (vl->pw && (pq.num != vl->prun.num ||
			       pq.total != vl->prun.total ||
			       pq.fanout != vl->prun.fanout))
			prog_stop(vl);
		if (!vl->pw)
			prog_start(vl, &pq);
	} else if (vl->pw) {
		prog_stop(vl);
	}
	if (ctx->ir && ctx->ir->queue.on && !ctx->disabled)
		want = ctx->ir->queue;
	if (want.on == vl->running.on && want.num == vl->running.num &&
	    want.total == vl->running.total)
		return;
	workers_stop(vl);
	if (want.on)
		workers_start(vl, &want);
	else
		fwd_log(LOG_INFO, "verdict loop: no queue step; no workers");
}

struct moved {
	size_t idx;
	struct fwd_edit e;
};

/*
 * Put the pending blocks into ctx->policy as block edits: new ones
 * appended, a repeat offender's edit moved to the end with its later
 * expiry. (The fast path raises the old element's expiry: its delta
 * deletes and re-adds it in one transaction, which refreshes the kernel's
 * timeout; the compiler only when the raised element would join a
 * neighbour.) Returns the index of the first edit to
 * patch in; mv and nmv say what moved (undo); applied[i] whether pd[i]
 * became an edit.
 */
static size_t blocks_to_edits(struct fwd_ctx *ctx, const struct pending *pd,
			      size_t n, uint64_t now, struct moved **mv,
			      size_t *nmv, size_t *nnew, bool *applied)
{
	struct fwd_policy *p = ctx->policy;
	struct fwd_edit *add = fwd_xcalloc(n ? n : 1, sizeof(*add));
	size_t na = 0, first;

	*mv = fwd_xcalloc(n ? n : 1, sizeof(**mv));
	*nmv = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t until = now + pd[i].secs;
		ssize_t j = block_edit(p, &pd[i].src, now);
		bool dup = false;

		applied[i] = false;
		for (size_t k = 0; k < na && !dup; k++)
			dup = same_addr(&add[k].addr, &pd[i].src);
		if (dup)
			continue;
		if (j >= 0) {
			if (!p->edits[j].expires || p->edits[j].expires >= until)
				continue;	/* held at least as long already */
			(*mv)[*nmv] = (struct moved){ .idx = (size_t)j, .e = p->edits[j] };
			(*nmv)++;
			fwd_policy_del_edit(p, (size_t)j);
		}
		add[na++] = (struct fwd_edit){
			.kind = FWD_EDIT_BLOCK, .addr = pd[i].src, .expires = until,
		};
		applied[i] = true;
	}
	first = p->nedits;
	for (size_t i = 0; i < na; i++) {
		char err[256];

		if (fwd_policy_add_edit(p, &add[i], err, sizeof(err)) != 0)
			fwd_log(LOG_ERR, "%s: %s", __func__, err);
	}
	*nnew = p->nedits - first;
	free(add);
	return first;
}

static void edits_undo(struct fwd_policy *p, size_t first, const struct moved *mv,
		       size_t nmv)
{
	p->nedits = first;
	/* Back where they were, in reverse order of their removal. */
	for (size_t i = nmv; i-- > 0;) {
		FWD_GROW(p->edits, p->edits_cap, p->nedits + 1);
		memmove(&p->edits[mv[i].idx + 1], &p->edits[mv[i].idx],
			(p->nedits - mv[i].idx) * sizeof(*p->edits));
		p->edits[mv[i].idx] = mv[i].e;
		p->nedits++;
	}
}

static int blocks_commit(struct fwd_ctx *ctx, size_t first, bool fast_only)
{
	struct fwd_change ch = {
		.src = FWD_SRC_BLOCKS, .policy = ctx->policy, .additions = true,
		.first_new = first, .fast_only = fast_only, .persist = true,
	};
	struct fwd_diags d;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_change_commit(ctx, &ch, &d);
	if (ret && ret != -EAGAIN) {
		fwd_log(LOG_ERR, "verdict loop: blocks not committed: %s",
			d.n ? d.v[0].msg : strerror(-ret));
	}
	fwd_diags_free(&d);
	return ret;
}

void fwd_vloop_blocks(struct fwd_ctx *ctx)
{
	struct fwd_vloop *vl = ctx->vloop;
	struct pending *pd;
	struct moved *mv = NULL;
	bool *applied;
	size_t n, nmv = 0, nnew = 0, first;
	uint64_t ticks, now = (uint64_t)time(NULL);
	int ret;

	if (!vl)
		return;
	(void)!read(vl->efd, &ticks, sizeof(ticks));
	pthread_mutex_lock(&vl->mu);
	pd = vl->pend;
	n = vl->npend;
	vl->pend = NULL;
	vl->npend = vl->pend_cap = 0;
	pthread_mutex_unlock(&vl->mu);
	if (!n)
		return;
	if (!ctx->policy || ctx->model_unknown || ctx->disabled) {
		/* Edits are refused in these states (commit.h): the blocks
		 * are lost, and said so. */
		fwd_log(LOG_WARNING, "verdict loop: %zu block%s not made: %s", n,
			n == 1 ? "" : "s", ctx->disabled ? "fwd is disabled" :
			"the running rules' policy is unknown");
		free(pd);
		return;
	}
	applied = fwd_xcalloc(n, sizeof(*applied));
	first = blocks_to_edits(ctx, pd, n, now, &mv, &nmv, &nnew, applied);
	ret = nnew ? blocks_commit(ctx, first, true) : 0;
	if (ret == -EAGAIN) {
		/*
		 * The fast path does not merge elements: a block that touches
		 * another one with the same expiry (neighbouring addresses
		 * blocked in the same second) needs the compiler. Still one
		 * transaction, an element delta.
		 */
		vl->bst.compiled++;
		ret = blocks_commit(ctx, first, false);
	}
	if (ret) {
		edits_undo(ctx->policy, first, mv, nmv);
		vl->bst.failures++;
		vl->bst.failed_elements += nnew;
	} else if (nnew) {
		vl->bst.commits++;
		vl->bst.elements += nnew;
		vl->bst.extends += nmv;
		held_prune(vl);
		for (size_t i = 0; i < n; i++) {
			char a[FWD_ADDR_STRLEN];

			if (!applied[i])
				continue;
			held_put(vl, &pd[i].src, pd[i].reason, now + pd[i].secs);
			fwd_addr_format(&pd[i].src, a, sizeof(a));
			fwd_log(LOG_NOTICE, "guard: blocked %s for %us (%s)", a,
				pd[i].secs, fwd_reason_name(pd[i].reason));
		}
		held_save(ctx);
	}
	free(applied);
	free(mv);
	free(pd);
}

const char *fwd_vloop_reason(const struct fwd_ctx *ctx, const struct fwd_addr *a)
{
	const struct held *h;

	if (!ctx->vloop || !(h = held_find(ctx->vloop, a)) ||
	    h->expires <= (uint64_t)time(NULL))
		return "fwctl";
	return fwd_reason_name(h->reason);
}

void fwd_vloop_unblocked(struct fwd_ctx *ctx, const struct fwd_addr *a)
{
	struct fwd_vloop *vl = ctx->vloop;
	struct held *h;

	if (!vl)
		return;
	h = held_find(vl, a);
	if (h) {
		memmove(h, h + 1, (size_t)(vl->held + vl->nheld - (h + 1)) * sizeof(*h));
		vl->nheld--;
		held_save(ctx);
	}
	pthread_mutex_lock(&vl->mu);
	fwd_guard_unblock(vl->guard, a);
	pthread_mutex_unlock(&vl->mu);
}

void fwd_vloop_block_stats(struct fwd_ctx *ctx, struct fwd_vloop_bstats *out)
{
	struct fwd_vloop *vl = ctx->vloop;

	memset(out, 0, sizeof(*out));
	if (!vl)
		return;
	*out = vl->bst;
	out->held = vl->nheld;
	pthread_mutex_lock(&vl->mu);
	out->lost = vl->pend_dropped;
	out->pending = vl->npend;
	pthread_mutex_unlock(&vl->mu);
}

unsigned fwd_vloop_stats(struct fwd_ctx *ctx, struct fwd_vloop_qstats *out,
			 unsigned max)
{
	struct fwd_vloop *vl = ctx->vloop;
	unsigned n = 0;

	if (!vl)
		return 0;
	pthread_mutex_lock(&vl->mu);
	for (size_t i = 0; i < vl->nw && n < max; i++, n++) {
		const struct worker *w = &vl->w[i];
		struct fwd_vloop_qstats *s = &out[n];

		memset(s, 0, sizeof(*s));
		s->num = w->num;
		s->bound = w->bound;
		s->queued = w->qst.received;
		s->verdicts = w->qst.verdicts;
		s->verdict_errors = w->qst.verdict_errors;
		memcpy(s->by_reason, w->by_reason, sizeof(s->by_reason));
		s->blocks = w->blocks;
		s->suppressed = w->suppressed;
		s->lat_p50_ns = lat_pct(&w->lat, 50);
		s->lat_p99_ns = lat_pct(&w->lat, 99);
		s->lat_samples = w->lat.n;
	}
	if (vl->pw && n < max) {
		/* The program queues as one entry: the decisions are one
		 * thing whichever CPU queued them. */
		struct fwd_vloop_qstats *s = &out[n++];

		memset(s, 0, sizeof(*s));
		s->num = vl->pw[0].num;
		s->bound = true;
		s->prog = true;
		s->prog_total = (uint16_t)vl->npw;
		for (size_t i = 0; i < vl->npw; i++) {
			const struct worker *w = &vl->pw[i];

			s->bound = s->bound && w->bound;
			s->queued += w->qst.received;
			s->verdicts += w->qst.verdicts;
			s->verdict_errors += w->qst.verdict_errors;
			s->prog_accepted += w->prog_by[FWD_PROG_ALLOWED];
			s->prog_unknown += w->prog_by[FWD_PROG_UNKNOWN_OWNER];
			s->prog_denied += w->prog_by[FWD_PROG_NOT_ALLOWED];
			s->prog_labelled += w->labelled;
			s->prog_label_errors += w->label_errors;
			if (w->last_label_error)
				s->prog_last_label_error = w->last_label_error;
		}
	}
	pthread_mutex_unlock(&vl->mu);
	for (unsigned i = 0; i < n; i++) {
		unsigned nq = out[i].prog ? out[i].prog_total : 1;

		for (unsigned k = 0; k < nq; k++) {
			struct fwd_queue_proc pr;

			if (fwd_queue_proc_read((uint16_t)(out[i].num + k), &pr) == 0) {
				out[i].queue_dropped += pr.queue_dropped;
				out[i].user_dropped += pr.user_dropped;
			}
		}
	}
	return n;
}

size_t fwd_vloop_read(struct fwd_ctx *ctx, const struct fwd_vlog_query *q,
		      struct fwd_vlog_rec *out, size_t max, uint64_t *missed,
		      uint64_t *next_seq)
{
	struct fwd_vloop *vl = ctx->vloop;
	size_t n;

	if (!vl) {
		*missed = 0;
		*next_seq = 1;
		return 0;
	}
	pthread_mutex_lock(&vl->mu);
	n = fwd_vlog_read(vl->ring, q, out, max, missed);
	*next_seq = fwd_vlog_next_seq(vl->ring);
	pthread_mutex_unlock(&vl->mu);
	return n;
}

void fwd_vloop_fork_prepare(void *vctx)
{
	struct fwd_ctx *ctx = vctx;

	if (ctx->vloop)
		pthread_mutex_lock(&ctx->vloop->mu);
}

void fwd_vloop_fork_done(void *vctx)
{
	struct fwd_ctx *ctx = vctx;

	if (ctx->vloop)
		pthread_mutex_unlock(&ctx->vloop->mu);
}
