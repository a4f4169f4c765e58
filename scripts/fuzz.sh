#!/usr/bin/env bash
# Runs every Go fuzz target of the module (each func FuzzXxx(f *testing.F)
# in a _test.go file) for FUZZTIME each: `make test` runs them briefly
# (FUZZTIME=2s), `make fuzz` longer (FUZZTIME=2m). Their seed corpora (f.Add
# and testdata/fuzz) also run in every plain `go test`. A failing input is
# written to the package's testdata/fuzz/FuzzXxx/ by go test: commit it,
# and make it a regular test too.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-2s}

targets=$(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . |
  sed -E 's#^\./(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+).*#\1 \2#' | sort)
if [ -z "$targets" ]; then
  echo "scripts/fuzz.sh: no fuzz targets found" >&2
  exit 1
fi
start=$SECONDS
n=0
while read -r dir name; do
  echo "fuzz: $name in ./$dir for $FUZZTIME"
  "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "./$dir"
  n=$((n + 1))
done <<<"$targets"
echo "fuzz: $n targets, $((SECONDS - start)) s"
