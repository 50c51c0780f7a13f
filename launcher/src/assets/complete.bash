# The front of mptcpize-rs's bash completion (appended when the assets are rendered
# to clap_complete's script, whose _mptcpize__rs does options and values):
# - `run [OPTIONS] PROG [ARGS]...` and `check [PROG]`: PROG completes as a
#   command and its ARGS with PROG's own completion, as for env, nice and
#   sudo (bash-completion's _command_offset; without it, command names, then
#   file names);
# - `enable|disable|status UNIT`: the service and socket units systemctl
#   lists (of the user's manager with --user, of the image with --root DIR).
_mptcpize-rs() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local i=1 sub=
    while ((i < COMP_CWORD)); do
        case ${COMP_WORDS[i]} in
            -*) ;;
            *) sub=${COMP_WORDS[i]}; break ;;
        esac
        ((i++))
    done
    case $sub in
        run | check)
            # The first operand after the subcommand's options is PROG.
            local j=$((i + 1)) prog=
            while ((j < COMP_CWORD)); do
                case ${COMP_WORDS[j]} in
                    --) prog=$((j + 1)); break ;;
                    --mode | --role | --peer | --wait) # options with a value
                        [[ ${COMP_WORDS[j+1]} == = ]] && ((j++))
                        ((j++)) ;;
                    =) ((j++)) ;; # bash splits --report=FILE at '='
                    -*) ;;
                    *) prog=$j; break ;;
                esac
                ((j++))
            done
            case $prev in
                --mode | --role | --peer | --wait | =) ;; # their value: below
                *) [[ -z $prog && $cur != -* ]] && prog=$COMP_CWORD ;;
            esac
            if [[ -n $prog ]] && ((prog <= COMP_CWORD)); then
                [[ $sub == check ]] && ((prog < COMP_CWORD)) && return 0
                if declare -F _command_offset >/dev/null; then
                    _command_offset "$prog"
                elif ((prog == COMP_CWORD)); then
                    COMPREPLY=($(compgen -c -- "$cur"))
                else
                    COMPREPLY=($(compgen -f -- "$cur"))
                fi
                return 0
            fi
            ;;
        enable | disable | status)
            if [[ $cur != -* && $prev != --root && $prev != --shim ]]; then
                local scope=() k
                for ((k = i + 1; k < COMP_CWORD; k++)); do
                    case ${COMP_WORDS[k]} in
                        --user) scope+=(--user) ;;
                        --root) scope+=("--root=${COMP_WORDS[k+1]}") ;;
                    esac
                done
                COMPREPLY=($(compgen -W "$(systemctl "${scope[@]}" list-unit-files \
                    --no-legend --no-pager --type=service,socket 2>/dev/null |
                    while read -r unit _; do printf '%s\n' "$unit"; done)" -- "$cur"))
                ((${#COMPREPLY[@]})) && return 0
            fi
            ;;
    esac
    _mptcpize__rs "$@"
}
