#!/usr/bin/env bash
# Run the host on SQLite in ./data with the Feishu plugin installed. Extra arguments go to
# `mica-host serve` (e.g. --listen 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-plugin.sh
cargo build -p mica-host
exec ./target/debug/mica-host serve "$@"
