#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation (what cargo-fuzz does, on
# stable Rust through RUSTC_BOOTSTRAP) and runs each for a bounded time.
#   fuzz/run.sh [SECONDS_PER_TARGET]      (default 120)
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-120}"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps the instrumentation off build scripts and proc macros.
target="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --bins --target "$target"
for t in bodies sse headers; do
  mkdir -p "corpus/$t" "artifacts/$t"
  "$CARGO_TARGET_DIR/$target/release/$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" "corpus/$t" "seeds/$t" 2>&1 | tail -n 3
done
