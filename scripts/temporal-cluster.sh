#!/usr/bin/env bash
# Installs what the cluster tier of the suite (test/cluster/) needs, idempotently, into the
# git-ignored .tools/ under versioned names:
#   temporal-server-<v>      the Temporal server (all four services), go install from the Go module proxy
#   temporal-sql-tool-<v>    its SQL schema tool, from the same module version
#   temporal-schema-<v>/     schema/postgresql/v12/{temporal,visibility} of that same module
#   temporal-ui-server-<v>   the Temporal UI server (github.com/temporalio/ui-server/v2), with the Update action
# and Debian's PostgreSQL of the pinned major (apt-get, only when its initdb is missing).
# The versions live in deploy/versions.json, which docker-compose.yml must match (test/deploy/compose.test.ts).
# Go builds use a private GOPATH and build cache in .tools/go, so a rebuild (a new version, a
# deleted binary) reuses every module and package already compiled. Work already done is skipped.
# Your own binaries win: KEYLESS_TEMPORAL_SERVER, KEYLESS_TEMPORAL_SQL_TOOL, KEYLESS_TEMPORAL_UI_SERVER
# (then KEYLESS_TEMPORAL_SCHEMA_DIR names the schema folder holding temporal/ and visibility/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "setup: $*" >&2; }
fail() { echo "setup: $*" >&2; exit 1; }

pin() { node -p "const v = require('$root/deploy/versions.json')['$1']; if (v === undefined) throw new Error('deploy/versions.json has no $1'); v"; }
SERVER_VERSION="$(pin temporalServer)"
UI_VERSION="$(pin temporalUi)"
PG_MAJOR="$(pin postgresMajor)"

mkdir -p "$tools"
# Worktrees share .tools/: one build at a time, and the second waits and then finds it done.
exec 9>"$tools/.temporal-cluster.lock"
flock 9

server_bin="$tools/temporal-server-$SERVER_VERSION"
sql_bin="$tools/temporal-sql-tool-$SERVER_VERSION"
schema_dir="$tools/temporal-schema-$SERVER_VERSION"
ui_bin="$tools/temporal-ui-server-$UI_VERSION"

go_env() {
  command -v go >/dev/null || fail "the cluster tier builds the Temporal server with Go, which is not installed: install Go (apt-get install golang, or go.dev/dl), or set KEYLESS_TEMPORAL_SERVER, KEYLESS_TEMPORAL_SQL_TOOL, KEYLESS_TEMPORAL_UI_SERVER and KEYLESS_TEMPORAL_SCHEMA_DIR to binaries you have"
  export GOPATH="$tools/go" GOMODCACHE="$tools/go/pkg/mod" GOCACHE="$tools/go/cache"
  # The module's go.mod names the Go it needs; a machine's older Go fails here with that version
  # in the message rather than downloading a toolchain behind the user's back.
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -modcacherw"
}

# go_build <package@version> <target>: builds one main package into a temporary GOBIN, then moves it into place.
go_build() {
  local package="$1" target="$2" gobin
  gobin="$(mktemp -d "$tools/.gobin.XXXXXX")"
  local began=$SECONDS
  if ! GOBIN="$gobin" go install -trimpath -ldflags='-s -w' "$package" >&2; then
    rm -rf "$gobin"
    fail "go install $package failed (see above); with an older Go the message names the version the module needs"
  fi
  mv "$gobin"/* "$target"
  rm -rf "$gobin"
  echo "setup: built $(basename "$target") in $((SECONDS - began)) s" >&2
}

if [ -n "${KEYLESS_TEMPORAL_SERVER:-}" ]; then
  [ -x "$KEYLESS_TEMPORAL_SERVER" ] || fail "KEYLESS_TEMPORAL_SERVER=$KEYLESS_TEMPORAL_SERVER is not an executable file; unset it to build the pinned server"
  say "using the Temporal server from KEYLESS_TEMPORAL_SERVER"
elif [ -x "$server_bin" ] && "$server_bin" --version >/dev/null 2>&1; then
  say "temporal-server $SERVER_VERSION already installed"
else
  echo "setup: building the Temporal server v$SERVER_VERSION with go install (minutes on first run)" >&2
  go_env
  go_build "go.temporal.io/server/cmd/server@v$SERVER_VERSION" "$server_bin"
fi

if [ -n "${KEYLESS_TEMPORAL_SQL_TOOL:-}" ]; then
  [ -x "$KEYLESS_TEMPORAL_SQL_TOOL" ] || fail "KEYLESS_TEMPORAL_SQL_TOOL=$KEYLESS_TEMPORAL_SQL_TOOL is not an executable file; unset it to build the pinned schema tool"
  say "using the Temporal SQL tool from KEYLESS_TEMPORAL_SQL_TOOL"
elif [ -x "$sql_bin" ] && "$sql_bin" --version >/dev/null 2>&1; then
  say "temporal-sql-tool $SERVER_VERSION already installed"
else
  go_env
  go_build "go.temporal.io/server/cmd/tools/sql@v$SERVER_VERSION" "$sql_bin"
fi

if [ -n "${KEYLESS_TEMPORAL_SCHEMA_DIR:-}" ]; then
  [ -d "$KEYLESS_TEMPORAL_SCHEMA_DIR/temporal/versioned" ] && [ -d "$KEYLESS_TEMPORAL_SCHEMA_DIR/visibility/versioned" ] \
    || fail "KEYLESS_TEMPORAL_SCHEMA_DIR=$KEYLESS_TEMPORAL_SCHEMA_DIR must hold temporal/versioned and visibility/versioned (schema/postgresql/v12 of go.temporal.io/server)"
  say "using the PostgreSQL schema from KEYLESS_TEMPORAL_SCHEMA_DIR"
elif [ -d "$schema_dir/temporal/versioned" ] && [ -d "$schema_dir/visibility/versioned" ]; then
  say "temporal-schema $SERVER_VERSION already installed"
else
  go_env
  # The module source is in the module cache after the build; `go mod download` finds (or fetches) it.
  module_dir="$(cd "$tools" && go mod download -json "go.temporal.io/server@v$SERVER_VERSION" | node -e 'let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => { const m = JSON.parse(s); if (m.Error || !m.Dir) { console.error(m.Error ?? "no Dir"); process.exit(1); } console.log(m.Dir); })')" \
    || fail "cannot download go.temporal.io/server@v$SERVER_VERSION from the Go module proxy"
  rm -rf "$schema_dir.part"
  mkdir -p "$schema_dir.part"
  cp -R "$module_dir/schema/postgresql/v12/temporal" "$module_dir/schema/postgresql/v12/visibility" "$schema_dir.part/"
  chmod -R u+w "$schema_dir.part"
  mv "$schema_dir.part" "$schema_dir"
  say "installed the PostgreSQL schema of v$SERVER_VERSION into $(basename "$schema_dir")"
fi

if [ -n "${KEYLESS_TEMPORAL_UI_SERVER:-}" ]; then
  [ -x "$KEYLESS_TEMPORAL_UI_SERVER" ] || fail "KEYLESS_TEMPORAL_UI_SERVER=$KEYLESS_TEMPORAL_UI_SERVER is not an executable file; unset it to build the pinned UI server"
  say "using the Temporal UI server from KEYLESS_TEMPORAL_UI_SERVER"
elif [ -x "$ui_bin" ]; then
  say "temporal-ui-server $UI_VERSION already installed"
else
  echo "setup: building the Temporal UI server v$UI_VERSION with go install" >&2
  go_env
  go_build "github.com/temporalio/ui-server/v2/cmd/server@v$UI_VERSION" "$ui_bin"
fi

# PostgreSQL refuses to run as root; the suite starts its own cluster as the postgres user, so
# only the binaries (and that user, which the Debian package creates) are needed here.
if ! ls /usr/lib/postgresql/"$PG_MAJOR"/bin/initdb >/dev/null 2>&1; then
  command -v apt-get >/dev/null || fail "the cluster tier needs PostgreSQL $PG_MAJOR (/usr/lib/postgresql/$PG_MAJOR/bin/initdb): install it with your package manager"
  echo "setup: installing PostgreSQL $PG_MAJOR for the cluster tier (apt-get install -y postgresql-$PG_MAJOR)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$PG_MAJOR" >&2 \
    || fail "apt-get could not install postgresql-$PG_MAJOR: install PostgreSQL $PG_MAJOR so that /usr/lib/postgresql/$PG_MAJOR/bin/initdb exists"
else
  say "PostgreSQL $PG_MAJOR present"
fi
