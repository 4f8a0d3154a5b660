# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for fwctl(8).
#
# The commands and their option words follow the usage lines in
# common/cmdtab.c (`fwctl help`). List names and the ports of the policy's
# services come from the running daemon (`fwctl list show --json`, `fwctl
# show --json`, on the socket the command line names), asked with a time
# limit and quietly: no daemon, no answer, nothing offered. Needs only
# bash, not the bash-completion package.

# The words of each command that can follow it, by usage line.
_fwctl_opts()
{
	case $1 in
	status) echo --verbose --json ;;
	diff | check | doctor | 'list blocked' | 'list show')
		echo --json ;;
	stats) echo --json --prometheus ;;
	explain) echo --out --user --unit --program --json ;;
	disable) echo --yes ;;
	audit) echo --save-baseline --diff --json ;;
	show) echo --nft --json ;;
	allow) echo --runtime --force ;;
	deny | block) echo --runtime --force --yes ;;
	remove) echo --allow --deny --generation --kill-states --force --yes ;;
	'list add') echo -v --runtime ;;
	'list del') echo --runtime --force ;;
	reload) echo --confirm --force ;;
	log) echo -f -n --since --json --dshield ;;
	import) echo -n --force -v -o -c --services-dir --json ;;
	esac
}

# Ask the running daemon (the words of fwctl after the socket options in
# $_fwctl_sock), at most a second, errors thrown away. Names of lists and
# services are [A-Za-z0-9_.-] (the policy checks), so they need no JSON
# parser: the quoted values after a key are taken as they are.
_fwctl_ask()
{
	local t=
	command -v timeout >/dev/null 2>&1 && t='timeout 1'
	$t "${_fwctl_bin:-fwctl}" "${_fwctl_sock[@]}" "$@" 2>/dev/null
}

# List names, one a line.
_fwctl_lists()
{
	_fwctl_ask list show --json | grep -o '"name":"[A-Za-z0-9_.-]*"' |
		sed 's/^"name":"//; s/"$//'
}

# The ports the policy's services open (22/tcp, 443/udp), one a line.
_fwctl_service_ports()
{
	_fwctl_ask show --json | grep -o '"ports":\[[^]]*\]' |
		grep -o '"[0-9][0-9/a-z-]*"' | tr -d '"' | sort -u
}

# Service names of /etc/services (tcp and udp), for PORTS typed as a name.
_fwctl_port_names()
{
	[[ -r /etc/services ]] || return 0
	awk '$1 !~ /^#/ && $2 ~ /\/(tcp|udp)$/ { print $1 }' /etc/services | sort -u
}

# COMPREPLY from compgen, one candidate a line: file names with spaces
# stay whole and nothing is globbed. Uses the caller's $cur.
_fwctl_reply()
{
	mapfile -t COMPREPLY < <(compgen "$@" -- "$cur")
}

# PORTS: the policy's own ports and a few common ones; a name once a
# letter is typed (https).
_fwctl_ports()
{
	local p
	p="$ports $(_fwctl_service_ports | tr '\n' ' ')"
	if [[ $cur == [A-Za-z]* ]]; then
		_fwctl_reply -W "$(_fwctl_port_names | tr '\n' ' ')"
	else
		_fwctl_reply -W "$(printf '%s\n' $p | awk '!seen[$0]++' | tr '\n' ' ')"
	fi
}

_fwctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=
	local commands='status show allow deny remove block unblock list log reload confirm diff explain stats audit disable enable doctor check import help version'
	local listcmds='add del show blocked'
	local ports='22/tcp 80/tcp 443/tcp 53/udp'
	local cmd='' i w
	local -a args=() _fwctl_sock=()
	local _fwctl_bin=${COMP_WORDS[0]}

	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	# --socket=PATH arrives as three words: --socket, =, PATH.
	[[ $prev == = ]] && ((COMP_CWORD > 1)) && prev=${COMP_WORDS[COMP_CWORD - 2]}
	[[ $cur == = ]] && cur='' && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	# Options before the command word, then the command (one or two
	# words), then its arguments; option words after it are not arguments.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ -z $cmd ]]; then
			case $w in
			-S | --socket)
				[[ ${COMP_WORDS[i + 1]-} == = ]] && ((i++))
				((i++))
				_fwctl_sock=(-S "${COMP_WORDS[i]-}") ;;
			-*) ;;
			list) cmd=list ;;
			*) cmd=$w ;;
			esac
		elif [[ $cmd == list ]]; then
			cmd="list $w"
		elif [[ $w == --confirm ]]; then
			[[ ${COMP_WORDS[i + 1]-} == = ]] && ((i++))
			((i++))
		elif [[ $w != -* || $w == - ]]; then
			args+=("$w")
		fi
	done

	if [[ -z $cmd ]]; then
		case $prev in
		-S | --socket)
			compopt -o filenames 2>/dev/null
			_fwctl_reply -f
			return 0 ;;
		esac
		if [[ $cur == -* ]]; then
			_fwctl_reply -W '-S --socket -j --json -f --force -h --help -V --version'
		else
			_fwctl_reply -W "$commands"
		fi
		return 0
	fi
	if [[ $cmd == list ]]; then
		_fwctl_reply -W "$listcmds"
		return 0
	fi
	[[ $prev == --confirm ]] && return 0	# DURATION
	if [[ $cur == -* ]]; then
		w=$(_fwctl_opts "$cmd")
		# `-` is the word that reads addresses from standard input.
		[[ $cmd == 'list add' || $cmd == 'list del' ]] && ((${#args[@]} > 0)) && w="- $w"
		_fwctl_reply -W "$w"
		return 0
	fi

	case $cmd in
	allow | deny | remove)
		# PORTS [from PEER...|to PEER...] [on IFACE] [limit N/WINDOW]
		# [for DURATION]; on and limit are allow's (and remove's).
		if ((${#args[@]} == 0)) || [[ $prev == *, ]]; then
			_fwctl_ports
		elif [[ $prev == for ]]; then
			_fwctl_reply -W '30m 1h 1d 7d'
		elif [[ $prev == on ]]; then
			# The interfaces there are now; one made later is
			# matched too, so any name may be typed.
			_fwctl_reply -W "$(command ls /sys/class/net 2>/dev/null)"
		elif [[ $prev == limit ]]; then
			_fwctl_reply -W '6/30s 10/1m 100/1h'
		elif [[ $prev == from || $prev == to || $cur == @* ]]; then
			# @lists from the daemon; addresses are not knowable.
			# `any` and the lists only once typing has begun,
			# never inserted unasked.
			[[ -n $cur ]] && _fwctl_reply -W "any $(_fwctl_lists | sed 's/^/@/')"
		elif [[ $cmd == remove ]]; then
			_fwctl_reply -W 'from to on limit'
		elif [[ $cmd == deny ]]; then
			_fwctl_reply -W 'from to for'
		else
			_fwctl_reply -W 'from to on limit for'
		fi
		;;
	block)
		# ADDR|CIDR... [for DURATION]: addresses are not knowable.
		if [[ $prev == for ]]; then
			_fwctl_reply -W '30m 1h 1d 7d'
		elif ((${#args[@]} > 0)) && [[ -n $cur ]]; then
			_fwctl_reply -W 'for'
		fi
		;;
	explain)
		# SRC PORTS: the source is not knowable.
		((${#args[@]} == 1)) && _fwctl_ports
		;;
	'list add' | 'list del' | 'list show')
		# NAME first (list add may create one: nothing is forced).
		((${#args[@]} == 0)) && _fwctl_reply -W "$(_fwctl_lists)"
		;;
	check)
		if ((${#args[@]} == 0)); then
			compopt -o filenames 2>/dev/null
			_fwctl_reply -f
		fi
		;;
	import)
		# import ufw|iptables|firewalld [FILE...|-]: then files (and
		# directories after --services-dir), -o FILE, -c CONFIG.
		if ((${#args[@]} == 0)); then
			_fwctl_reply -W 'ufw iptables firewalld'
		elif [[ $prev == --services-dir ]]; then
			compopt -o filenames 2>/dev/null
			_fwctl_reply -d
		else
			compopt -o filenames 2>/dev/null
			_fwctl_reply -f
		fi
		;;
	help)
		if ((${#args[@]} == 0)); then
			_fwctl_reply -W "$commands"
		elif ((${#args[@]} == 1)) && [[ ${args[0]} == list ]]; then
			_fwctl_reply -W "$listcmds"
		fi
		;;
	esac
	# unblock, list NAME ADDR...: addresses are not knowable.
	return 0
}

complete -F _fwctl fwctl
