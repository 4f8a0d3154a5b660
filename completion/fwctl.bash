# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for fwctl(8).
#
# The commands and their option words follow the usage lines in
# common/cmdtab.c (`fwctl help`). List names, blocked addresses and the like
# live in the running daemon, so they are not completed: completion must not
# connect to anything. Needs only bash, not the bash-completion package.

# The words of each command that can follow it, by usage line.
_fwctl_opts()
{
	case $1 in
	status | diff | explain | check | doctor | 'list blocked' | 'list show')
		echo --json ;;
	stats) echo --json --prometheus ;;
	disable) echo --yes ;;
	audit) echo --save-baseline --diff --json ;;
	show) echo --nft --json ;;
	allow | deny | block) echo --runtime --force ;;
	remove) echo --kill-states --force ;;
	'list add') echo --runtime ;;
	'list del') echo --runtime --force ;;
	reload) echo --confirm --force ;;
	log) echo -f -n --since --json --dshield ;;
	esac
}

# COMPREPLY from compgen, one candidate a line: file names with spaces
# stay whole and nothing is globbed. Uses the caller's $cur.
_fwctl_reply()
{
	mapfile -t COMPREPLY < <(compgen "$@" -- "$cur")
}

_fwctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=
	local commands='status show allow deny remove block unblock list log reload confirm diff explain stats audit disable enable doctor check help version'
	local listcmds='add del show blocked'
	local ports='22/tcp 80/tcp 443/tcp 53/udp'
	local cmd='' i w
	local -a args=()

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
				((i++)) ;;
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
	[[ $prev == --confirm ]] && return 0	# SECONDS
	if [[ $cur == -* ]]; then
		w=$(_fwctl_opts "$cmd")
		# `-` is the word that reads addresses from standard input.
		[[ $cmd == 'list add' || $cmd == 'list del' ]] && ((${#args[@]} > 0)) && w="- $w"
		_fwctl_reply -W "$w"
		return 0
	fi

	case $cmd in
	allow | deny | remove)
		# PORTS [from PEER...|to PEER...] [for DURATION]
		if ((${#args[@]} == 0)) || [[ $prev == *, ]]; then
			_fwctl_reply -W "$ports"
		elif [[ $prev == for ]]; then
			_fwctl_reply -W '30m 1h 1d 7d'
		elif [[ $prev == from || $prev == to ]]; then
			# Addresses and @lists are not knowable; offer `any`
			# only once typing has begun, never insert it unasked.
			[[ -n $cur ]] && _fwctl_reply -W 'any'
		elif [[ $cmd == remove ]]; then
			_fwctl_reply -W 'from to'
		else
			_fwctl_reply -W 'from to for'
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
	check)
		if ((${#args[@]} == 0)); then
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
	# explain SRC PORT/PROTO, unblock, list NAME ADDR...: nothing to offer.
	return 0
}

complete -F _fwctl fwctl
