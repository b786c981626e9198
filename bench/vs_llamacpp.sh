#!/bin/sh
# local-ai against llama.cpp on the same machine, alternated run by run (the speed of a
# shared VM drifts by 10-25% within minutes, so only neighbouring runs compare well).
# llama.cpp comes prebuilt from the npm registry (node-llama-cpp, bench/llamacpp/), installed
# once into $LLAMACPP_DIR; its CPU backend picks the build for this CPU (AVX2, AVX-512, AMX)
# at run time, as llama.cpp's own release builds do.
#   bench/vs_llamacpp.sh ROUNDS MODEL.gguf [PROMPT [GEN]]
# Each round runs llama.cpp, then local-ai, once each (`-t $THREADS`, default 2). Printed per
# test (pp, tg): the median of each and the median of the per-round ratios local-ai / llama.cpp.
set -e
[ $# -ge 2 ] || { sed -n '2,9p' "$0"; exit 2; }
rounds=$1 model=$2 p=${3:-128} g=${4:-32} threads=${THREADS:-2}
cd "$(dirname "$0")/.."
. bench/lib.sh
dir=${LLAMACPP_DIR:-/tmp/localai-llamacpp}
if [ ! -d "$dir/node_modules/node-llama-cpp" ]; then
    mkdir -p "$dir"
    cp bench/llamacpp/package.json "$dir/"
    # --ignore-scripts: the package would otherwise look for a GPU toolchain to build with.
    (cd "$dir" && npm install --omit=optional --ignore-scripts --no-audit --no-fund >/dev/null)
fi
cp bench/llamacpp/bench.mjs "$dir/"
make -s build/local-ai >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
while [ $i -lt "$rounds" ]; do
    node "$dir/bench.mjs" "$model" "$threads" 1 "$p" "$g" |
        while read -r test ts; do echo "$ts" >>"$tmp/llamacpp.$test"; done
    localai_rates build/local-ai "$model" "$threads" "$p" "$g" |
        while read -r test ts; do echo "$ts" >>"$tmp/localai.$test"; done
    i=$((i + 1))
done
for test in pp tg; do
    [ -f "$tmp/llamacpp.$test" ] && [ -f "$tmp/localai.$test" ] || continue
    paste "$tmp/llamacpp.$test" "$tmp/localai.$test" | awk '{print $2 / $1}' >"$tmp/ratio.$test"
    printf '%s %s: llama.cpp median %s (best %s) | local-ai median %s (best %s) | local-ai/llama.cpp per round: median %s\n' \
        "$(basename "$model" .gguf)" "$test" \
        "$(median "$tmp/llamacpp.$test")" "$(sort -n "$tmp/llamacpp.$test" | tail -1)" \
        "$(median "$tmp/localai.$test")" "$(sort -n "$tmp/localai.$test" | tail -1)" \
        "$(median "$tmp/ratio.$test")"
done
