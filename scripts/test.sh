#!/usr/bin/env bash
# Every test: unit tests of the plugin core and the host, and the end-to-end tests that run the
# real host with the real plugin component against the Feishu simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-plugin.sh
cargo test --workspace "$@"
