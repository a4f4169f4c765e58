#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, postgres) are installed, so
# the bridge and its tests can start a throwaway cluster. Installs Debian's
# postgresql package when they are missing and we are root.
set -euo pipefail
if [ -n "${BRIDGE_DATABASE_URL:-}" ] && [ -n "${BRIDGE_TEST_DATABASE_URL:-}" ]; then exit 0; fi
for d in "${PG_BIN:-}" /usr/lib/postgresql/*/bin; do
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then exit 0; fi
done
if command -v initdb >/dev/null && command -v postgres >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "ensure-postgres: installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends postgresql >&2
  # The package may start a system cluster; the bridge does not use it.
  exit 0
fi
cat >&2 <<'MSG'
ensure-postgres: no PostgreSQL server binaries found.
Install PostgreSQL (Debian/Ubuntu: sudo apt-get install -y postgresql),
or set BRIDGE_DATABASE_URL (and BRIDGE_TEST_DATABASE_URL for tests) to an
existing server, or use `docker compose up`.
MSG
exit 1
