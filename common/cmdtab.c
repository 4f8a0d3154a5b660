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

/* The daemon decides what is broad (policy/edit.h, fwd_edits_broad). */
#define BROAD_WORDS \
	"\nA broad change (blocks covering all of IPv4 or IPv6, a deny from\n" \
	"any, removing the last inbound allow) is made only with --yes; on a\n" \
	"terminal fwctl asks instead."

const struct fwd_cmdinfo fwd_cmdtab[] = {
	{ "status", "status [--verbose] [--json]",
	  "Whether fwd is up, which policy files it runs, generation, counts,\n"
	  "kernel features, degraded state (with the FILE:LINE errors behind\n"
	  "it) and pending confirmations.\n"
	  "--verbose also lists the effective rules, numbered as in `fwctl\n"
	  "show`, with their hits (packets, bytes) from the kernel's counters.",
	  FWD_ROLE_READ, false,
	  RUN(cmd_status), false,
	  "is fwd running, on which policy, and is anything wrong" },
	{ "show", "show [--nft] [--json]",
	  "The effective policy: defaults, lists, services and live edits, each\n"
	  "with the FILE:LINE it comes from; services and edits numbered, the\n"
	  "number first (`fwctl remove N`). --nft prints the live table read\n"
	  "back from the kernel, in nft syntax, with its counters.",
	  FWD_ROLE_READ, false,
	  RUN(cmd_show), false,
	  "the running policy, each part with its FILE:LINE" },
	{ "allow", "allow PORTS [from PEER...|to PEER...] [for DURATION] [--runtime] [--force] [--json]",
	  "Allow PORTS from the PEERs (default: from anywhere), at once, as one\n"
	  "small kernel transaction of set elements.\n" RULE_WORDS,
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_allow), false,
	  "let traffic to ports in, now" },
	{ "deny", "deny PORTS [from PEER...|to PEER...] [for DURATION] [--runtime] [--force] [--yes] [--json]",
	  "Reject PORTS from the PEERs even where the policy allows them (TCP\n"
	  "reset, ICMP admin-prohibited otherwise). Checked before the\n"
	  "allowlists.\n" RULE_WORDS BROAD_WORDS,
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_deny), false,
	  "refuse traffic to ports, even where the policy allows it" },
	{ "remove", "remove PORTS [from PEER...|to PEER...] [--allow|--deny] | N [--generation G] [--kill-states] [--runtime] [--force] [--yes] [--json]",
	  "Remove an allow or deny made with fwctl (hand-written files are never\n"
	  "rewritten: for those fwctl names the FILE:LINE to edit). When both an\n"
	  "allow and a deny name the PORTS and PEER, both go, and the answer\n"
	  "lists each; --allow or --deny takes out only that one.\n"
	  "remove N removes the fwctl edit numbered N in `fwctl show` (any kind:\n"
	  "allow, deny, block, list add/del); a number of a policy file's rule\n"
	  "is refused naming its FILE:LINE. --generation G (from `fwctl show\n"
	  "--json`) refuses if the policy changed since, so N still means the\n"
	  "rule you saw. '#N' is always a rule number; a bare N that is also\n"
	  "the port of an allow or deny from anyone is refused as ambiguous,\n"
	  "and one past the last rule is a port, as before.\n"
	  "--kill-states also ends the matching established connections\n"
	  "(their conntrack entries are deleted), so removal takes effect for\n"
	  "them too." BROAD_WORDS,
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_remove), false,
	  "take back an allow or deny made with fwctl" },
	{ "block", "block ADDR|CIDR... [for DURATION] [--runtime] [--force] [--yes] [--json]",
	  "Drop everything from (and to) the addresses, established\n"
	  "connections included, until unblocked or expired." BROAD_WORDS,
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_block), false,
	  "drop everything from (and to) addresses" },
	{ "unblock", "unblock ADDR|CIDR... [--runtime] [--json]",
	  "Lift a block (also one the verdict loop's guard made).", FWD_ROLE_ADMIN, false,
	  RUN(cmd_unblock), false,
	  "lift a block" },
	{ "list blocked", "list blocked [--json]",
	  "Blocked addresses with the time left and why: guard scan, guard\n"
	  "flood (the verdict loop's [guard]) or fwctl.", FWD_ROLE_READ, false,
	  RUN(cmd_list_blocked), false,
	  "the blocked addresses, time left and why" },
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
	  RUN(cmd_log), true,
	  "the dropped packets the verdict loop recorded" },
	{ "list add", "list add NAME ADDR...|- [-v] [--runtime] [--json]",
	  "Add addresses to address list NAME (created if missing). `-` reads\n"
	  "addresses from standard input, one per line or space separated: a\n"
	  "thousand addresses are one request and one kernel transaction.\n"
	  "`#` or `;` starts a comment to the end of its line; an error names\n"
	  "its line (stdin:LINE) and nothing of the batch is applied. A batch\n"
	  "answers with one line (added 101, already present 2); -v gives one\n"
	  "line a member.",
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_list_add), false,
	  "add addresses to an address list" },
	{ "list del", "list del NAME ADDR...|- [--runtime] [--force] [--json]",
	  "Remove addresses from list NAME.", FWD_ROLE_ADMIN, false,
	  RUN(cmd_list_del), false,
	  "take addresses out of an address list" },
	{ "list show", "list show [NAME] [--json]",
	  "The members of list NAME with where each comes from; without NAME,\n"
	  "every list and its size.", FWD_ROLE_READ, false,
	  RUN(cmd_list_show), false,
	  "the address lists and their members" },
	{ "reload", "reload [--confirm DURATION] [--force] [--json]",
	  "Re-read the policy files and apply only the difference, in one\n"
	  "transaction. With --confirm the change is reverted after DURATION\n"
	  "(30s, 5m, 1h30m as for `for`; a bare number is seconds; at most 1d)\n"
	  "unless `fwctl confirm` arrives, also if fwd restarts meanwhile.",
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_reload), false,
	  "apply the edited policy files (only the difference)" },
	{ "confirm", "confirm [--json]", "Keep the policy of a `reload --confirm`.",
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_confirm), false,
	  "keep the policy of a `reload --confirm`" },
	{ "diff", "diff [--json]",
	  "What `fwctl reload` would change: the files against the running\n"
	  "rules, as set elements added (+) and removed (-). Exits as diff(1)\n"
	  "does: 0 nothing would change, 1 something would, 2 or more an error\n"
	  "(the files do not compile: 2).",
	  FWD_ROLE_READ, false,
	  RUN(cmd_diff), false,
	  "what a reload would change (exit 1 if anything)" },
	{ "explain", "explain SRC PORTS [--out] [--user USER] [--unit UNIT] "
	  "[--program PATH] [--json]",
	  "Which rule decides a new connection from SRC to PORTS, and the\n"
	  "verdict, with the policy line behind it. SRC may be IPv4 or IPv6;\n"
	  "PORTS as for allow (22/tcp, 53, https, 60000-61000/udp, comma\n"
	  "separated). Says when fwd is disabled, and which other tables on\n"
	  "the same hooks can drop what fwd accepts (as `fwctl doctor`).\n"
	  "--out: SRC is the destination of a connection from this host (the\n"
	  "output chain);\n"
	  "--user, --unit: made by a socket of that user or systemd unit (the\n"
	  "outbound owner rules; a unit that is not running matches nothing);\n"
	  "--program: by a process running PATH (the program rules, decided in\n"
	  "the verdict loop).",
	  FWD_ROLE_READ, false,
	  RUN(cmd_explain), true,
	  "which rule decides a connection, and why" },
	{ "stats", "stats [--json|--prometheus]",
	  "Hit counters (kernel counters) of the allowlist rules and the\n"
	  "blocklist, and of the control socket. --prometheus prints them in\n"
	  "Prometheus' text exposition format ([metrics] textfile writes the\n"
	  "same text for node_exporter).",
	  FWD_ROLE_READ, false,
	  RUN(cmd_stats), false,
	  "hit counters per service, list and edit" },
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
	  RUN(cmd_audit), true,
	  "which listening sockets the rules expose" },
	{ "disable", "disable [--yes] [--json]",
	  "Delete fwd's table: the host is OPEN until `fwctl enable`, `fwctl\n"
	  "reload`, SIGHUP or a restart of fwd. This is the only way fwd opens\n"
	  "the host: stopping fwd does not. fwctl asks for confirmation on a\n"
	  "terminal; scripts pass --yes.",
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_disable), false,
	  "delete fwd's table: opens the host" },
	{ "enable", "enable [--json]",
	  "Put the running policy back in the kernel after `fwctl disable`.",
	  FWD_ROLE_ADMIN, false,
	  RUN(cmd_enable), false,
	  "put the table back after `fwctl disable`" },
	{ "doctor", "doctor [--json]",
	  "Other tables and base chains on the same hooks (Docker, iptables-nft,\n"
	  "firewalld, ...) with their priorities, what that means for fwd (an\n"
	  "accept in fwd's table does not override a drop elsewhere; a published\n"
	  "Docker port may bypass the input chain), and the kernel probe. Runs\n"
	  "in fwctl itself (needs root), whether fwd runs or not.",
	  FWD_ROLE_NONE, true, NULL, false,
	  "other firewalls on the same hooks, kernel features" },
	{ "check", "check [FILE] [--json]",
	  "Validate a policy file (and its conf.d/ and list files) offline.\n"
	  "Prints every error as FILE:LINE: message; exit 0 if valid, 1 if not.\n"
	  "Needs neither the daemon nor privileges beyond reading the files.\n"
	  "FILE defaults to " FWD_SYSCONFDIR "/fwd/fwd.conf.",
	  FWD_ROLE_NONE, true, NULL, false,
	  "validate policy files offline" },
	{ "import", "import ufw|iptables|firewalld [FILE...|-] [-n] [--force] [-v] [-o FILE] [-c CONFIG] [--services-dir DIR] [--json]",
	  "Write a fwd policy from another firewall's configuration: ufw's rule\n"
	  "files (user.rules, user6.rules, /etc/default/ufw: the default) or\n"
	  "`ufw status verbose`; iptables-save / ip6tables-save output (filter\n"
	  "table, INPUT and OUTPUT; standard input by default); firewalld zone\n"
	  "files (services from --services-dir, else /etc/firewalld/services and\n"
	  "/usr/lib/firewalld/services). The original's first-match order is\n"
	  "resolved (drops a later accept would override become deny lines).\n"
	  "Everything fwd cannot express is listed as FILE:LINE: not imported:\n"
	  "WHY (those ports stay closed) and the exit is 1. The text is checked\n"
	  "as `fwctl check` would, together with the main file, then written\n"
	  "atomically to conf.d/50-import-TOOL.conf beside -c CONFIG (default\n"
	  FWD_SYSCONFDIR "/fwd/fwd.conf), never over an existing file unless\n"
	  "--force; -o FILE writes a whole policy there instead, -n prints it.\n"
	  "Nothing is applied: `fwctl reload` does. -v also prints notes (rules\n"
	  "that need nothing, as fwd already does it). --json: one object with\n"
	  "the file written (or the policy, with -n), not_imported and notes.\n"
	  "Needs no daemon.",
	  FWD_ROLE_NONE, true, NULL, false,
	  "write a fwd policy from ufw, iptables or firewalld rules" },
	{ "help", "help [COMMAND] [--json]", "Show help for fwctl or one command.",
	  FWD_ROLE_NONE, true, NULL, false,
	  "this list, or the help of one command" },
	{ "version", "version [--json]", "Print the version.", FWD_ROLE_NONE, true, NULL, false,
	  "print fwctl's version" },
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
