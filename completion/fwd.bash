# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for fwd(8): its options, as in usage() and the getopt
# table of daemon/fwd.c. Needs only bash, not the bash-completion package.

_fwd()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=

	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	# --config=FILE arrives as three words: --config, =, FILE.
	[[ $prev == = ]] && ((COMP_CWORD > 1)) && prev=${COMP_WORDS[COMP_CWORD - 2]}
	[[ $cur == = ]] && cur='' && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	case $prev in
	-c | --config | -S | --socket)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0 ;;
	--state-dir)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return 0 ;;
	esac
	# fwd takes no arguments besides its options.
	mapfile -t COMPREPLY < <(compgen -W '--config --oneshot --dry-run --probe --json
		--socket --no-socket --state-dir --print-default --version
		--help' -- "$cur")
	return 0
}

complete -F _fwd fwd
