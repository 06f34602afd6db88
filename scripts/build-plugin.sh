#!/usr/bin/env bash
# Build the Feishu plugin component (wasm32-wasip2, size-optimised profile).
# Output: target/wasm32-wasip2/plugin/mica_feishu_plugin.wasm
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
cargo build -p mica-feishu-plugin --target wasm32-wasip2 --profile plugin "$@"
echo "plugin: $(pwd)/target/wasm32-wasip2/plugin/mica_feishu_plugin.wasm"
