// SPDX-License-Identifier: GPL-2.0-or-later
#include "cmdtab.h"

#include <string.h>

/*
 * fwd builds this file with FWD_CMDTAB_RUN: each row then carries the
 * daemon's function for its command, so the dispatcher runs what the row
 * names and no second table matched by name can drift from this one.
 * fwctl builds it without: it runs none of the daemon's commands and
 * links none of their code.
 */
#ifdef FWD_CMDTAB_RUN
#define RUN(fn) fn
#else
#define RUN(fn) NULL
#endif

#define RULE_WORDS \
	"PORTS: 22/tcp, 53 (tcp and udp), 60000-61000/udp, https (from\n" \
	"/etc/services), comma separated. PEER: any, an address, a CIDR or\n" \
	"@list, IPv4 or IPv6; several may follow `from`. `to PEER` instead of\n" \
	"`from` makes an outbound rule (destinations). DURATION: 30s, 10m, 2h,\n" \
	"7d or a mix (1h30m); the kernel expires the entry (element timeout),\n" \
	"and after a restart the remaining time is still right.\n" \
	"Without --runtime the change is saved in conf.d/99-fwctl.conf (the one\n" \
	"file fwd owns) and survives a restart. A change that would cut off\n" \
	"the SSH session it comes from (SSH_CONNECTION) is refused unless\n" \
	"--force."

const struct fwd_cmdinfo fwd_cmdtab[] = {
	{ "status", "status [--json]",
	  "Whether fwd is up, which policy files it runs, generation, counts,\n"
	  "kernel features, degraded state and pending confirmations.",
	  FWD_ROLE_READ, false,
	  RUN(cmd_status), false },
	{ "show", "show [--nft] [--json]",
	  "The effective policy: defaults, lists, services and live edits, each\n"
	  "with the FILE:LINE it comes from. --nft prints the live table read\n"
	  "back from the kernel, in nft syntax.",
	  FWD_ROLE_READ, false,
	  RUN(cmd_show), false },
	{ "allow", "allow PORTS [from PEER...|to PEER...] [for DURATION] [--runtime] [--force] [--json]",
	  "Allow PORTS from the PEERs (default: from anywhere), at once, as one\n"
	  "small kernel transaction of set elements.\n" RULE_WORDS,
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_allow), false },
	{ "deny", "deny PORTS [from PEER...|to PEER...] [for DURATION] [--runtime] [--force] [--json]",
	  "Reject PORTS from the PEERs even where the policy allows them (TCP\n"
	  "reset, ICMP admin-prohibited otherwise). Checked before the\n"
	  "allowlists.\n" RULE_WORDS,
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_deny), false },
	{ "remove", "remove PORTS [from PEER...|to PEER...] [--kill-states] [--runtime] [--force] [--json]",
	  "Remove an allow or deny made with fwctl (hand-written files are never\n"
	  "rewritten: for those fwctl names the FILE:LINE to edit).\n"
	  "--kill-states also ends the matching established connections\n"
	  "(their conntrack entries are deleted), so removal takes effect for\n"
	  "them too.",
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_remove), false },
	{ "block", "block ADDR|CIDR... [for DURATION] [--runtime] [--force] [--json]",
	  "Drop everything from (and to) the addresses, established\n"
	  "connections included, until unblocked or expired.",
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_block), false },
	{ "unblock", "unblock ADDR|CIDR... [--runtime] [--json]", "Lift a block.", FWD_ROLE_ADMIN, false,
	  RUN(cmd_unblock), false },
	{ "list blocked", "list blocked [--json]",
	  "Blocked addresses with the time left and why: guard scan, guard\n"
	  "flood (the verdict loop's [guard]) or fwctl.", FWD_ROLE_READ, false,
	  RUN(cmd_list_blocked), false },
	{ "log", "log [-f] [-n N] [--since TIME] [--json | --dshield]",
	  "The verdict loop's records of dropped packets (a ring in fwd's\n"
	  "memory), oldest first: time, verdict, reason (default deny, guard\n"
	  "scan, guard flood, blocked, suppressed), interface, protocol, source\n"
	  "and destination, TCP flags, policy line. -n N: the last N. --since\n"
	  "TIME: unix seconds, YYYY-MM-DDTHH:MM:SS[Z] or an age (30s, 10m, 2h,\n"
	  "1d). --json: one JSON object per line. --dshield: DShield's\n"
	  "tab-separated firewall log lines ([defaults] dshield_userid). -f:\n"
	  "keep printing new records (fwctl asks fwd about every 0.2 s; records\n"
	  "the ring overwrote meanwhile are counted on stderr).",
	  FWD_ROLE_READ, false,
	  RUN(cmd_log), true },
	{ "list add", "list add NAME ADDR...|- [--runtime] [--json]",
	  "Add addresses to address list NAME (created if missing). `-` reads\n"
	  "addresses from standard input, one per line or space separated: a\n"
	  "thousand addresses are one request and one kernel transaction.\n"
	  "`#` or `;` starts a comment to the end of its line; an error names\n"
	  "its line (stdin:LINE) and nothing of the batch is applied.",
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_list_add), false },
	{ "list del", "list del NAME ADDR...|- [--runtime] [--force] [--json]",
	  "Remove addresses from list NAME.", FWD_ROLE_ADMIN, false,
	  RUN(cmd_list_del), false },
	{ "list show", "list show [NAME] [--json]",
	  "The members of list NAME with where each comes from; without NAME,\n"
	  "every list and its size.", FWD_ROLE_READ, false,
	  RUN(cmd_list_show), false },
	{ "reload", "reload [--confirm SECONDS] [--force] [--json]",
	  "Re-read the policy files and apply only the difference, in one\n"
	  "transaction. With --confirm the change is reverted after SECONDS\n"
	  "unless `fwctl confirm` arrives, also if fwd restarts meanwhile.",
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_reload), false },
	{ "confirm", "confirm", "Keep the policy of a `reload --confirm`.",
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_confirm), false },
	{ "diff", "diff [--json]",
	  "What `fwctl reload` would change: the files against the running\n"
	  "rules, as set elements added (+) and removed (-).",
	  FWD_ROLE_READ, false,
	  RUN(cmd_diff), false },
	{ "explain", "explain SRC PORT/PROTO [--json]",
	  "Which rule decides a new connection from SRC to PORT/PROTO, and the\n"
	  "verdict, with the policy line behind it. SRC may be IPv4 or IPv6.",
	  FWD_ROLE_READ, false,
	  RUN(cmd_explain), false },
	{ "stats", "stats [--json|--prometheus]",
	  "Hit counters (kernel counters) of the allowlist rules and the\n"
	  "blocklist, and of the control socket. --prometheus prints them in\n"
	  "Prometheus' text exposition format ([metrics] textfile writes the\n"
	  "same text for node_exporter).",
	  FWD_ROLE_READ, false,
	  RUN(cmd_stats), false },
	{ "audit", "audit [--save-baseline|--diff] [--json]",
	  "Every listening TCP socket and bound UDP socket of fwd's network\n"
	  "namespace (IPv4 and IPv6, from the kernel's sock_diag), its owner\n"
	  "(pid, command, exe, user, systemd unit) and what the running rules\n"
	  "make of it: exposed (allowed from any source), restricted (from the\n"
	  "sources listed), shielded (nobody may connect), local (loopback\n"
	  "only); then the allowed ports nothing listens on (unused).\n"
	  "--save-baseline keeps the picture in fwd's state directory (admin);\n"
	  "--diff lists listeners that appeared, vanished or changed owner or\n"
	  "verdict since, and exits 1 when one is newly exposed (2: no\n"
	  "baseline). Processes are shown to admins only.",
	  FWD_ROLE_READ, false,
	  RUN(cmd_audit), true },
	{ "disable", "disable [--yes]",
	  "Delete fwd's table: the host is OPEN until `fwctl enable`, `fwctl\n"
	  "reload`, SIGHUP or a restart of fwd. This is the only way fwd opens\n"
	  "the host: stopping fwd does not. fwctl asks for confirmation on a\n"
	  "terminal; scripts pass --yes.",
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_disable), false },
	{ "enable", "enable",
	  "Put the running policy back in the kernel after `fwctl disable`.",
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_enable), false },
	{ "doctor", "doctor [--json]",
	  "Other tables and base chains on the same hooks (Docker, iptables-nft,\n"
	  "firewalld, ...) with their priorities, what that means for fwd (an\n"
	  "accept in fwd's table does not override a drop elsewhere; a published\n"
	  "Docker port may bypass the input chain), and the kernel probe. Runs\n"
	  "in fwctl itself (needs root), whether fwd runs or not.",
	  FWD_ROLE_NONE, true, NULL, false },
	{ "check", "check [FILE] [--json]",
	  "Validate a policy file (and its conf.d/ and list files) offline.\n"
	  "Prints every error as FILE:LINE: message; exit 0 if valid, 1 if not.\n"
	  "Needs neither the daemon nor privileges beyond reading the files.\n"
	  "FILE defaults to " FWD_SYSCONFDIR "/fwd/fwd.conf.",
	  FWD_ROLE_NONE, true, NULL, false },
	{ "help", "help [COMMAND]", "Show help for fwctl or one command.",
	  FWD_ROLE_NONE, true, NULL, false },
	{ "version", "version", "Print the version.", FWD_ROLE_NONE, true, NULL, false },
};

const unsigned fwd_ncmdtab = sizeof(fwd_cmdtab) / sizeof(fwd_cmdtab[0]);

/* Whether row name `name` is the words argv[0..w): compared word by word,
 * so that a long word after a command name cannot hide the name. */
static bool name_is(const char *name, int w, char *const *argv)
{
	for (int i = 0; i < w; i++) {
		size_t n = strlen(argv[i]);

		if (strncmp(name, argv[i], n) != 0)
			return false;
		name += n;
		if (i + 1 < w) {
			if (*name != ' ')
				return false;
			name++;
		}
	}
	return *name == '\0';
}

const struct fwd_cmdinfo *fwd_cmd_find(int argc, char *const *argv, int *words)
{
	/* Two-word names first, so "list add" wins over a one-word "list". */
	for (int w = 2; w >= 1; w--) {
		if (argc < w)
			continue;
		for (unsigned i = 0; i < fwd_ncmdtab; i++) {
			if (name_is(fwd_cmdtab[i].name, w, argv)) {
				if (words)
					*words = w;
				return &fwd_cmdtab[i];
			}
		}
	}
	return NULL;
}

int fwd_cmd_max_words(const struct fwd_cmdinfo *ci)
{
	const char *u = ci->usage + strlen(ci->name);
	int n = 0;

	/* The usage line is the grammar: "[--opt ...]" groups are options,
	 * "[WORD]" is one optional word, anything else is for the command
	 * itself to count (a list of PORTS, PEERs, ADDRs). */
	for (;;) {
		const char *end;

		while (*u == ' ')
			u++;
		if (!*u)
			return n;
		if (*u != '[')
			return -1;
		end = strchr(u, ']');
		if (!end)
			return -1;
		if (u[1] != '-')
			n++;
		u = end + 1;
	}
}
