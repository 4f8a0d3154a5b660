/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_TESTS_NETNS_H
#define FWD_TESTS_NETNS_H

/*
 * Network namespaces, processes and traffic for the tests that run the real
 * fwd (check-e2e, check-fwctl, check-faults), one topology and naming:
 *
 *     good (192.0.2.2, 2001:db8:1::2) --veth-- srv --veth-- bad (198.51.100.2, 2001:db8:2::2)
 *                        srv: 192.0.2.1, 2001:db8:1::1 | 198.51.100.1, 2001:db8:2::1
 *
 * Namespaces are named fwdt-<runner pid>-<role>, the scratch directory is
 * $TMPDIR/fwdt-<runner pid>. Nothing here touches the machine's own
 * namespace: veth pairs are created directly inside the test namespaces,
 * and every process a test starts runs inside one of them (or is a child
 * of the test process, which has joined one).
 *
 * Cleanup: a failing test's forked child exits at once (libcheck), so the
 * runner removes its namespaces (killing what runs inside: all of it was
 * started by the suite) in an unchecked teardown, and a runner that was
 * killed is swept by the next run (nn_runner_init: namespaces
 * fwdt-<pid>-* and scratch directories $TMPDIR/fwdt-<pid> whose pid is
 * gone). Every process the suite forks itself also gets SIGKILL when the
 * test process dies (PR_SET_PDEATHSIG).
 */
#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum nn_role { NN_SRV, NN_GOOD, NN_BAD, NN_NROLES };
extern const char *const nn_role_names[NN_NROLES];

#define NN_SRV4_G "192.0.2.1"
#define NN_SRV6_G "2001:db8:1::1"
#define NN_SRV4_B "198.51.100.1"
#define NN_SRV6_B "2001:db8:2::1"
#define NN_GOOD4 "192.0.2.2"
#define NN_GOOD6 "2001:db8:1::2"
#define NN_BAD4 "198.51.100.2"
#define NN_BAD6 "2001:db8:2::2"

/* nettool exit codes (tests/nettool.c); NN_REJECTED matches 2 or 3. */
enum { NN_OK = 0, NN_DROP = 1, NN_REFUSED = 2, NN_UNREACH = 3, NN_REJECTED = -2 };

#define NN_MAX_PROCS 48

struct nn_env {
	char ns[NN_NROLES][48];
	int nroles;			/* 1: srv only; 3: the whole topology */
	char dir[256];			/* scratch directory */
	pid_t procs[NN_MAX_PROCS];	/* started by nn_spawn, killed by nn_down */
	int nprocs;
};

/* Programs: $FWD_BIN, $FWD_NETTOOL, or the build directory's. */
const char *nn_tool(const char *env, const char *rel);
#define NN_FWD nn_tool("FWD_BIN", "daemon/fwd")
#define NN_NETTOOL nn_tool("FWD_NETTOOL", "tests/nettool")

/* main(): name namespaces after this pid, sweep what dead runners left. */
void nn_runner_init(void);
/* Remove this runner's namespaces and scratch directory (quiet if none). */
void nn_runner_cleanup(void);
/*
 * One TCase per test, so that CK_RUN_CASE=<name> runs a single one, with
 * its timeout and an unchecked (runner-side) teardown: `cleanup`, or
 * nn_runner_cleanup when NULL. A failing test's child exits at once, so
 * the runner removes what it left.
 */
void nn_add_test(Suite *s, const char *name, const TTest *t, int timeout,
		 void (*cleanup)(void));
/*
 * main() of a suite of these tests: nn_runner_init, SSH_CONNECTION set
 * empty (fwctl looks for it up its parent chain: the developer's own SSH
 * session must not take part in the lockout guard), tu_run, and as root
 * nn_runner_cleanup. Its exit status.
 */
int nn_run(Suite *s);

/* Fresh namespaces (topology: all three, linked; else srv alone) and an
 * empty scratch directory; anything of this runner's is removed first. */
void nn_up(struct nn_env *e, bool topology);
/* Kill what nn_spawn started, remove namespaces and scratch directory. */
void nn_down(struct nn_env *e);
/* Move the calling process into a namespace (setns). */
void nn_enter(const struct nn_env *e, enum nn_role r);

/* Keep a malloc'd pointer until nn_down frees it (test-long strings). */
void *nn_keep(void *p);
/* DIR/name, kept (nn_keep): never free it. */
char *nn_path(const struct nn_env *e, const char *name);
/* printf into a string kept (nn_keep) until nn_down: never free it. For
 * the many short strings of a test that would otherwise leak (tu_asprintf
 * is the one the caller frees). */
char *nn_keepf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct nn_spawn_opts {
	const char *const *env;		/* extra NAME=VALUE, NULL-terminated */
	void (*prep)(void);		/* runs in the child just before exec */
};

/*
 * Start argv with stdout+stderr appended to logpath. role >= 0: inside that
 * namespace (`ip netns exec`, which execs without forking, so the pid is
 * the program's); role < 0: directly, in the caller's namespace.
 */
pid_t nn_spawn(struct nn_env *e, int role, const char *logpath,
	       const char *const argv[], const struct nn_spawn_opts *o);
/* A child forked some other way, killed by nn_down too; how many live. */
void nn_adopt(struct nn_env *e, pid_t pid);
int nn_nprocs(const struct nn_env *e);
/* A pid the caller reaped itself. */
void nn_forget(struct nn_env *e, pid_t pid);
/* SIGTERM, reap within secs (else fail the test); the exit status
 * (128+N for a signal). */
int nn_stop(struct nn_env *e, pid_t pid, double secs);
/* SIGKILL and reap; forgets the pid. */
void nn_kill(struct nn_env *e, pid_t pid);
/* Still running? (An exited child is left unreaped.) */
bool nn_alive(pid_t pid);

/* Shell command that must exit 0 (else the test fails with its output);
 * returns its stdout+stderr, malloc'd. */
char *nn_sh_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nn_write_file(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *nn_slurp_or_empty(const char *path);
size_t nn_count_in_file(const char *path, const char *needle);
/* The number after the first `key` in the file (nettool's "count ",
 * "connected "); -1 if there is none. */
long nn_num_after(const char *path, const char *key);
/* The packets of the named counter in table inet fwdtest (a test's own),
 * in namespace ns (NULL: the caller's); fails the test if there is none. */
unsigned long long nn_counter_packets(const char *ns, const char *name);
/* Bounded wait until needle occurs at least n times in the file. */
bool nn_wait_for(const char *path, const char *needle, size_t n, double secs);

double nn_now(void);
void nn_msleep(unsigned ms);

/* One fwctl run: exit status, stdout, stderr (the next run frees them). */
struct nn_fwctl_run {
	int rc;
	char *out, *err;
};
/*
 * fwctl in srv against the fwd whose control socket is `sock`, with
 * SSH_CONNECTION empty (fwctl looks for it up its parent chain: a
 * developer's session must not take part in the lockout guard) and `env`
 * (NAME=VALUE words, may set it after all; NULL: none) in its
 * environment, stdin from the file `in` (NULL: /dev/null). r gets the
 * result; the exit status is r->rc.
 */
int nn_fwctl_v(const struct nn_env *e, struct nn_fwctl_run *r, const char *sock,
	       const char *env, const char *in, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));

/* A nettool listener in srv (kind "listen" or "sink", both families, no
 * --count: its --from BAD4/BAD6 only matter to tests that read what it
 * counted); waits until it is bound, returns its log path (kept), its pid
 * in *pid if asked. */
char *nn_listener(struct nn_env *e, const char *kind, const char *proto,
		  unsigned port, pid_t *pid);
/* The same in another namespace (its log named after the role). */
char *nn_listener_in(struct nn_env *e, enum nn_role role, const char *kind,
		     const char *proto, unsigned port, pid_t *pid);

/* Probes: many at once, in parallel, each bounded (drops wait 0.8 s). */
struct nn_probe {
	enum nn_role from;
	int expect;
	char cmd[160];			/* nettool arguments, or "ping ADDR" */
};
struct nn_probes {
	struct nn_probe p[48];
	int n;
};
void nn_probe(struct nn_probes *ps, enum nn_role from, int expect, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Run them all; fail the test listing every mismatch. */
void nn_probes_run(const struct nn_env *e, struct nn_probes *ps);
/* The same, the failure saying where (`when`) and anything `more` the
 * caller knows (its last command's output); either may be NULL. */
void nn_probes_run_when(const struct nn_env *e, struct nn_probes *ps,
			const char *when, const char *more);

/*
 * Short names for the suites that grew up with them (check-e2e,
 * check-fwctl): define NN_SHORT_NAMES before including this header.
 */
#ifdef NN_SHORT_NAMES
#define SRV NN_SRV
#define GOOD NN_GOOD
#define BAD NN_BAD
#define NROLES NN_NROLES
#define OK NN_OK
#define DROP NN_DROP
#define REFUSED NN_REFUSED
#define UNREACH NN_UNREACH
#define REJECTED NN_REJECTED
#define SRV4_G NN_SRV4_G
#define SRV6_G NN_SRV6_G
#define SRV4_B NN_SRV4_B
#define SRV6_B NN_SRV6_B
#define GOOD4 NN_GOOD4
#define GOOD6 NN_GOOD6
#define BAD4 NN_BAD4
#define BAD6 NN_BAD6
#define FWD NN_FWD
#define FWCTL nn_tool("FWCTL_BIN", "ctl/fwctl")
#define NETTOOL NN_NETTOOL
#define now nn_now
#define msleep nn_msleep
#define sh_ok nn_sh_ok
#define write_file nn_write_file
#define slurp_or_empty nn_slurp_or_empty
#define count_in_file nn_count_in_file
#define wait_for nn_wait_for
#define probes nn_probes
#define probe nn_probe
#endif

#endif
