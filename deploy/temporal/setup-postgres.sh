#!/bin/sh
# Creates Temporal's two PostgreSQL databases and applies the schema of the pinned Temporal release,
# the way Temporal's own compose examples now do (temporalio/samples-server, compose/: the
# temporal-sql-tool of temporalio/admin-tools, instead of the deprecated auto-setup image).
# The one-shot `temporal-schema` job of docker-compose.yml runs it in temporalio/admin-tools, and
# the cluster tier of the suite runs this same file against its own PostgreSQL (test/support/cluster.ts).
# Idempotent: an existing database is kept, and update-schema applies only the versions it lacks.
# SQL_HOST, SQL_PORT, SQL_USER and SQL_PASSWORD are temporal-sql-tool's own variables.
set -eu
: "${SQL_HOST:?}" "${SQL_PORT:?}" "${SQL_USER:?}" "${SQL_PASSWORD:?}"
# Where temporalio/admin-tools keeps the schema; scripts/temporal-cluster.sh copies the same folders.
schema="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"

for pair in temporal:temporal temporal_visibility:visibility; do
  database="${pair%%:*}"
  folder="${pair#*:}"
  temporal-sql-tool --plugin postgres12 --db "$database" create
  temporal-sql-tool --plugin postgres12 --db "$database" setup-schema -v 0.0
  temporal-sql-tool --plugin postgres12 --db "$database" update-schema -d "$schema/$folder/versioned"
  echo "schema of $database up to date"
done
