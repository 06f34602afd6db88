#!/usr/bin/env bash
# Every test: unit tests of the plugin core and the host, and the end-to-end tests that run the
# real host with the real plugin component against the Feishu simulator, the admin console's
# browser tests in headless Chromium (installed from Debian's packages when missing), and the Mica
# bridge's tests (pytest: the real host binary, the simulator and a PostgreSQL cluster of their own).
#
# The host's store runs on two backends, so the store's tests and the end-to-end suites run twice:
# on the embedded SQLite default, then on PostgreSQL (a cluster of this run's own, on a loopback
# port, each test host in a schema of its own; MICA_TEST_DATABASE_URL tells the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-browser.sh
./scripts/install-bridge.sh
./scripts/build-plugin.sh
log=$(mktemp)
pg=$(mktemp -d /tmp/mica-host-pg.XXXXXX)
trap 'rm -f "$log"; ./scripts/pg-cluster.sh stop "$pg"' EXIT
pg_url=$(./scripts/pg-cluster.sh start "$pg")
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?
# The PostgreSQL pass: the host's unit tests (the store's among them) and the end-to-end suites.
if [ "$status" -eq 0 ]; then
    echo "== the same tests with the host's state in PostgreSQL ($pg_url) =="
    for package in "-p mica-host --lib" "-p mica-tests"; do
        # shellcheck disable=SC2086
        MICA_TEST_DATABASE_URL="$pg_url" cargo test $package "$@" 2>&1 | tee -a "$log" || status=$?
        [ "$status" -eq 0 ] || break
    done
fi
# The bridge's tests use the binaries cargo just built (target/debug/mica-host, feishu-sim).
if [ "$status" -eq 0 ]; then
    (cd integrations/mica && ../../target/bridge-venv/bin/python -m pytest -q -p no:cacheprovider) 2>&1 \
        | tee -a "$log" || status=$?
fi
# cargo prints one summary per test binary (doc-test binaries last, often with 0 tests), pytest
# one line at the end; close with the total so the run's last line tells the whole story.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;/) p += $i; if ($(i+1) ~ /^failed;/) f += $i } }
     /^[0-9]+ (passed|failed).* in [0-9.]+s/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
