#!/usr/bin/env bash
# Serves the local model installed by scripts/setup-llm.sh on 127.0.0.1:PORT (default 8080)
# with llama.cpp's OpenAI-compatible server, in the foreground (Ctrl-C stops it). Then:
#
#   OPENAI_BASE_URL=http://127.0.0.1:8080/v1 cargo run --example quickstart
#
# Extra arguments after the port go to llama-server as they are.
set -euo pipefail

DIR="${AOK_LLM_DIR:-$HOME/.cache/agent-os/llm}"
SERVER="$DIR/bin/llama-server"
MODEL="$DIR/models/SmolLM2-135M-Instruct.Q4_1.gguf"
PORT="${1:-8080}"
shift || true

if [ ! -x "$SERVER" ] || [ ! -s "$MODEL" ]; then
    echo "serve-llm: the local model is not installed in $DIR: run bash scripts/setup-llm.sh first" >&2
    exit 1
fi

echo "serve-llm: SmolLM2-135M-Instruct on http://127.0.0.1:$PORT/v1 (OPENAI_BASE_URL=http://127.0.0.1:$PORT/v1)" >&2
# 4 parallel sequences of 2048 tokens each; the alias is the model name the server reports.
exec "$SERVER" -m "$MODEL" --host 127.0.0.1 --port "$PORT" \
    --alias smollm2 --ctx-size 8192 --parallel 4 "$@"
