# bash bash-complete.sh "<command line>": the words labhog's bash completion
# offers for the last word of that line, one a line. The completion script is
# the one `labhog completion bash` prints, loaded as a user's ~/.bashrc would.
eval "$(labhog completion bash)"
read -r -a COMP_WORDS <<< "$1"
[[ "$1" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$1"
COMP_POINT=${#COMP_LINE}
_labhog labhog "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
