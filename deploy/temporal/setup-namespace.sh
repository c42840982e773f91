#!/bin/sh
# Creates the namespace keyless runs in, when it is missing, and registers keyless's search
# attributes on it, so the UI and `keyless list` can filter a fleet by project, pipeline and stage.
# The one-shot `temporal-namespace` job of docker-compose.yml runs it in temporalio/admin-tools (the
# plain temporalio/server image creates no namespace), and the cluster tier of the suite runs this
# same file against its own server. Idempotent: what exists is left alone.
# TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE are read by the temporal CLI itself;
# KEYLESS_SEARCH_ATTRIBUTES holds "Name=Type" pairs (contracts/names.ts is the source of truth).
set -eu
: "${TEMPORAL_ADDRESS:?}" "${TEMPORAL_NAMESPACE:?}" "${KEYLESS_SEARCH_ATTRIBUTES:?}"
retention="${TEMPORAL_NAMESPACE_RETENTION:-72h}"

# The frontend's port opens before it serves; its health check says when it does.
tries=0
until temporal operator cluster health 2>/dev/null | grep -q SERVING; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then echo "Temporal at $TEMPORAL_ADDRESS is not serving" >&2; exit 1; fi
  sleep 2
done

if temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $TEMPORAL_NAMESPACE already exists"
else
  temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention "$retention" >/dev/null
  echo "namespace $TEMPORAL_NAMESPACE created (retention $retention)"
fi

# A new namespace reaches every frontend's cache within seconds; attributes need it there.
tries=0
until temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then echo "namespace $TEMPORAL_NAMESPACE not usable at $TEMPORAL_ADDRESS" >&2; exit 1; fi
  sleep 1
done

existing="$(temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE")"
for pair in $KEYLESS_SEARCH_ATTRIBUTES; do
  name="${pair%%=*}"
  type="${pair#*=}"
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute $name already registered"
  else
    temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --name "$name" --type "$type" >/dev/null
    echo "search attribute $name registered ($type)"
  fi
done
