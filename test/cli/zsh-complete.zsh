# zsh -f zcap.zsh "<command line>": the matches zsh's completion system offers
# for that line, one a line, read through a real interactive zsh on a pty.
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z 'PROMPT= RPROMPT=; autoload -Uz compinit; compinit -u -D'
zpty -w z 'eval "$(labhog completion zsh)"'
zpty -w z 'compadd() { local -a __hits; builtin compadd -O __hits "$@"; print -rl -- "<M>"${^__hits}; builtin compadd "$@" }'
zpty -w z 'print -- "<READ""Y>"'
local line deadline=$(( SECONDS + 20 ))
readline() { while (( SECONDS < deadline )); do zpty -r -t z line && return 0; sleep 0.05; done; return 1 }
while readline; do [[ $line == *"<READY>"* ]] && break; done
zpty -w -n z "$1"$'\t'
zpty -w z $'\C-e; print -- "<DO""NE>"'
while readline; do
  [[ $line == *"<DONE>"* ]] && break
  [[ $line == *"<M>"* ]] && print -r -- "${${line##*<M>}%%$'\r'*}"
done
zpty -d z
