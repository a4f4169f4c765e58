#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, postgres) are installed, so
# the bridge and its tests can start a throwaway cluster. Installs Debian's
# postgresql package when they are missing and we are root.
# (The tests need them even with BRIDGE_TEST_DATABASE_URL set: the tests that
# stop and restart PostgreSQL start clusters of their own.)
set -euo pipefail
for d in "${PG_BIN:-}" /usr/lib/postgresql/*/bin; do
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then exit 0; fi
done
if command -v initdb >/dev/null && command -v postgres >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "ensure-postgres: installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  # The package would create and start a system cluster on port 5432 that
  # nothing here uses and that would keep running after the tests: only the
  # server binaries are wanted (postgresql-common reads this directory).
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false  # dsp-bridge: scripts/ensure-postgres.sh" \
    > /etc/postgresql-common/createcluster.d/dsp-bridge.conf
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends postgresql >&2
  exit 0
fi
cat >&2 <<'MSG'
ensure-postgres: no PostgreSQL server binaries found.
Install PostgreSQL (Debian/Ubuntu: sudo apt-get install -y postgresql),
or, for `make run`, set BRIDGE_DATABASE_URL to an existing server, or use
`docker compose up`.
MSG
exit 1
