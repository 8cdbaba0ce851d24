# bash completion for podguard. Install: copy to
# /usr/share/bash-completion/completions/podguard (the image does), or
# `source` it from ~/.bashrc.
_podguard() {
    local cur prev words cword
    _init_completion 2>/dev/null || {
        cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
    }
    local sub="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            run|events|policy|probe|unpin|version) sub=${words[i]}; break ;;
        esac
    done
    case $prev in
        --events|--ready-file|--store|--kubeconfig|--runtime-socket)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --policy)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --unidentified)
            COMPREPLY=($(compgen -W "closed open" -- "$cur")); return ;;
        --aggregate-by)
            COMPREPLY=($(compgen -W "process container" -- "$cur")); return ;;
        --metrics-pod-labels)
            COMPREPLY=($(compgen -W "off namespace pod container" -- "$cur")); return ;;
        --log-level)
            COMPREPLY=($(compgen -W "trace debug info warn error" -- "$cur")); return ;;
        -o|--output)
            COMPREPLY=($(compgen -W "table json" -- "$cur")); return ;;
        --kind)
            COMPREPLY=($(compgen -W "signal ptrace proc_access fork exec exit" -- "$cur")); return ;;
        --relation)
            COMPREPLY=($(compgen -W "same_container same_pod host_to_container container_to_host cross_pod host unknown" -- "$cur")); return ;;
        --action)
            COMPREPLY=($(compgen -W "allowed audited blocked killed" -- "$cur")); return ;;
        --order)
            COMPREPLY=($(compgen -W "asc desc" -- "$cur")); return ;;
    esac
    local opts
    case $sub in
        "") opts="run events policy probe unpin version --version --log-level --help" ;;
        run) opts="--events --events-max-bytes --events-max-files --ready-file --ringbuf-size
                   --report-self --bpf-stats --lifecycle-events --stacks --metrics-address
                   --no-metrics --metrics-pod-labels --metrics-max-pod-series --kubeconfig
                   --node-name --runtime-socket --no-metadata --policy --no-api-policies --store
                   --no-store --store-max-bytes --store-max-age --pin --fail-open --unidentified
                   --aggregate-window --aggregate-by --aggregate-entries --priority-ringbuf-size
                   --source-priority-rate --source-priority-burst --source-rate --source-burst --help" ;;
        events) opts="verify --store --since --until --namespace --pod --container --kind
                      --relation --action --pid --limit --order -o --output --follow --help" ;;
        policy) opts="check --help"; [[ " ${words[*]} " == *" check "* ]] && { COMPREPLY=($(compgen -f -- "$cur")); return; } ;;
        probe) opts="--json --help" ;;
        *) opts="--help" ;;
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _podguard podguard
