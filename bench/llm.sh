#!/bin/sh
# Generation and prompt speed on random-weight models with the shapes llama.cpp was measured
# with (../shared/golden/README.md, "Speed anchors"): builds them once into $MODELS (default
# /tmp/localai-bench-models), then runs `local-ai bench -t 2 -p 128 -n 32 -r 3` on each.
#   bench/llm.sh                 all models
#   bench/llm.sh tinyllama q4_0  one (also the mixes without an anchor: f16, q5_k_m, iq4_nl,
#                                q2_k; see bench/mkmodel.c)
set -eu
cd "$(dirname "$0")/.."
make -s build/local-ai build/bench/mkmodel >/dev/null
MODELS=${MODELS:-/tmp/localai-bench-models}
mkdir -p "$MODELS"
THREADS=${THREADS:-2}
run() {
    f="$MODELS/$1-$2.gguf"
    [ -f "$f" ] || build/bench/mkmodel "$1" "$2" "$f"
    build/local-ai bench -m "$f" -t "$THREADS" -p 128 -n 32 -r "${REPS:-3}"
}
if [ $# -eq 2 ]; then run "$1" "$2"; exit; fi
for s in tinyllama; do for t in q8_0 q4_0 q4_k_m; do run $s $t; done; done
for t in q8_0 q4_k_m; do run qwen2.5-0.5b $t; done
