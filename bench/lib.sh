# Shell helpers of bench/ab_models.sh and bench/vs_llamacpp.sh (sourced, not run).

# localai_rates BINARY MODEL THREADS PROMPT GEN: one `BINARY bench -r 1` run, printed as lines
# "pp TOKENS_PER_S" and "tg TOKENS_PER_S" (a test with 0 tokens is left out).
localai_rates() {
    "$1" bench -m "$2" -t "$3" -p "$4" -n "$5" -r 1 --json 2>/dev/null |
        grep -o '"test": "[a-z]*[0-9]*", "n_tokens": [0-9]*, "avg_ts": [0-9.]*' |
        sed 's/"test": "\([a-z]*\)[0-9]*".*"avg_ts": \([0-9.]*\)/\1 \2/'
}

# median FILE: the median of FILE's numbers, one per line.
median() { sort -n "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
