#!/usr/bin/env bash
# Every test: unit tests of the plugin core and the host, and the end-to-end tests that run the
# real host with the real plugin component against the Feishu simulator, and the admin console's
# browser tests in headless Chromium (installed from Debian's packages when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-browser.sh
./scripts/build-plugin.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?
# cargo prints one summary per test binary (doc-test binaries last, often with 0 tests);
# end with the total so the run's closing line tells the whole story.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;/) p += $i; if ($(i+1) ~ /^failed;/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
