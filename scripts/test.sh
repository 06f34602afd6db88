#!/usr/bin/env bash
# Every test: unit tests of the plugin core and the host, and the end-to-end tests that run the
# real host with the real plugin component against the Feishu simulator, the admin console's
# browser tests in headless Chromium (installed from Debian's packages when missing), and the Mica
# bridge's tests (pytest: the real host binary, the simulator and a PostgreSQL cluster of their own).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-browser.sh
./scripts/install-bridge.sh
./scripts/build-plugin.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?
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
