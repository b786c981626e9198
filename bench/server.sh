#!/bin/sh
# Server load: `local-ai run --parallel 4` on a free loopback port over one GGUF model, then
# bench/server_load.mjs with 1 and 4 concurrent streams; compare with `local-ai bench` tg.
#   bench/server.sh MODEL.gguf [THREADS]
set -eu
cd "$(dirname "$0")/.."
model=$1
threads=${2:-2}
make -s build/local-ai >/dev/null
dir=$(mktemp -d)
ln -s "$(realpath "$model")" "$dir/m.gguf"
log=$dir/server.log
build/local-ai run --address 127.0.0.1:0 --models-path "$dir" --threads "$threads" --parallel 4 \
    --context-size 256 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do grep -q "listening on" "$log" && break; sleep 0.1; done
port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$log")
node bench/server_load.mjs "http://127.0.0.1:$port" m 1 4
