#!/usr/bin/env bash
# Ensure a local PostgreSQL 15 with the pgvector extension, for the test suite.
#
# Idempotent: if `CREATE EXTENSION IF NOT EXISTS vector` already works in the target database,
# it does nothing. Otherwise, on Debian as root, it builds pgvector from the Debian trixie
# source package against the local PostgreSQL 15 server and installs it.
#
# Target database: $AOK_TEST_POSTGRES_URL, else $DATABASE_URL, else
# postgres://postgres@127.0.0.1:5432/test (created if missing).
set -euo pipefail

URL="${AOK_TEST_POSTGRES_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}}"

log() { printf '[setup-pgvector] %s\n' "$*" >&2; }

docker_hint() {
    cat >&2 <<'HINT'
[setup-pgvector] Cannot install pgvector automatically here (needs Debian and root).
Run PostgreSQL 15 with pgvector in Docker instead:

    docker run -d --name aok-pg -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust \
        -e POSTGRES_DB=test pgvector/pgvector:pg15
    export AOK_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test

then run scripts/test.sh again.
HINT
}

# `psql` against the target URL, quiet, failing on error.
pg() { psql "$URL" -v ON_ERROR_STOP=1 -qtAX "$@"; }

vector_ok() {
    command -v psql >/dev/null 2>&1 && pg -c 'CREATE EXTENSION IF NOT EXISTS vector SCHEMA public' >/dev/null 2>&1
}

# The database name in the URL (path component, without query).
db_name() {
    local rest="${URL#*://}"
    rest="${rest#*/}"
    rest="${rest%%\?*}"
    printf '%s' "${rest:-postgres}"
}

# Make sure the target database exists (connects to the `postgres` maintenance db).
ensure_db() {
    local db base
    db="$(db_name)"
    base="${URL%%\?*}"
    base="${base%/*}/postgres"
    if ! psql "$base" -qtAX -c "SELECT 1 FROM pg_database WHERE datname = '${db}'" 2>/dev/null | grep -q 1; then
        log "creating database ${db}"
        psql "$base" -v ON_ERROR_STOP=1 -qtAX -c "CREATE DATABASE \"${db}\"" >/dev/null
    fi
}

cluster_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n1; }

start_cluster() {
    local ver
    ver="$(cluster_version)"
    if [ -z "$ver" ]; then
        log "no local PostgreSQL cluster under /etc/postgresql"
        return 1
    fi
    if ! pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
        log "starting PostgreSQL ${ver}/main"
        pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    fi
    for _ in $(seq 1 30); do
        if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
        sleep 1
    done
    log "PostgreSQL did not become ready on 127.0.0.1:5432"
    return 1
}

if vector_ok; then
    log "pgvector already available in $(db_name); nothing to do"
    exit 0
fi

if [ ! -f /etc/debian_version ] || [ "$(id -u)" -ne 0 ]; then
    docker_hint
    exit 1
fi

start_cluster
ensure_db
if vector_ok; then
    log "pgvector already available after starting the cluster; nothing to do"
    exit 0
fi

# Same mirror host as the existing apt sources.
# Only active lines count (`URIs:` in deb822 files, `deb` lines in one-line lists), never comments.
MIRROR="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
    | grep -vE '^[[:space:]]*#' \
    | grep -oE '^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)https?://[^ ]+/debian/?([[:space:]]|$)' \
    | grep -oE 'https?://[^ ]+' | grep -v -- '-security' | head -n1 || true)"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
MIRROR="${MIRROR%/}"
LIST=/etc/apt/sources.list.d/aok-trixie-src.list
log "adding ${LIST} (deb-src ${MIRROR} trixie main)"
echo "deb-src ${MIRROR} trixie main" >"$LIST"

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
PGVER="$(cluster_version)"
apt-get install -y -qq "postgresql-server-dev-${PGVER}" dpkg-dev make gcc >/dev/null

# Installing the dev package may upgrade the server and stop the cluster.
start_cluster

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(
    cd "$WORK"
    apt-get source --download-only pgvector
    dsc="$(ls ./*.dsc | head -n1)"
    dpkg-source -x "$dsc" src >/dev/null
    cd src
    make -s PG_CONFIG="/usr/lib/postgresql/${PGVER}/bin/pg_config"
    make -s install PG_CONFIG="/usr/lib/postgresql/${PGVER}/bin/pg_config"
)

if vector_ok; then
    log "pgvector installed: $(pg -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'")"
else
    log "pgvector was built but CREATE EXTENSION still fails in ${URL%%\?*}"
    exit 1
fi
