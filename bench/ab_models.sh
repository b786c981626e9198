#!/bin/sh
# Two local-ai binaries on one model, alternated run by run: on a shared VM the speed drifts
# by 10-25% within minutes, so only pairs of neighbouring runs compare well.
#   bench/ab_models.sh OLD_BINARY NEW_BINARY ROUNDS MODEL.gguf [PROMPT [GEN]]
# (PROMPT and GEN default to 128 and 32, as in `local-ai bench -p 128 -n 32`). Each round runs
# OLD then NEW once (`-t 2 -r 1`); printed per test (pp, tg): the best and the median of each
# binary, and the median of the per-round ratios NEW / OLD.
set -e
[ $# -ge 4 ] || { sed -n '2,7p' "$0"; exit 2; }
old=$1 new=$2 rounds=$3 model=$4 p=${5:-128} g=${6:-32}
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
while [ $i -lt "$rounds" ]; do
    for side in old new; do
        bin=$old
        [ $side = new ] && bin=$new
        localai_rates "$bin" "$model" 2 "$p" "$g" |
            while read -r test ts; do echo "$ts" >>"$tmp/$side.$test"; done
    done
    i=$((i + 1))
done
for test in pp tg; do
    [ -f "$tmp/old.$test" ] && [ -f "$tmp/new.$test" ] || continue
    paste "$tmp/old.$test" "$tmp/new.$test" | awk '{print $2 / $1}' >"$tmp/ratio.$test"
    printf '%s %s: old best %s median %s | new best %s median %s | new/old per round: median %s\n' \
        "$(basename "$model" .gguf)" "$test" \
        "$(sort -n "$tmp/old.$test" | tail -1)" "$(median "$tmp/old.$test")" \
        "$(sort -n "$tmp/new.$test" | tail -1)" "$(median "$tmp/new.$test")" \
        "$(median "$tmp/ratio.$test")"
done
