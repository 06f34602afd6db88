#!/usr/bin/env bash
# Build the Feishu plugin component and the test fixture components (wasm32-wasip2,
# size-optimised profile). Output: target/wasm32-wasip2/plugin/*.wasm
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
cargo build -p mica-feishu-plugin -p fixture-outbound-probe -p fixture-misbehave --target wasm32-wasip2 --profile plugin "$@"
echo "plugin: $(pwd)/target/wasm32-wasip2/plugin/mica_feishu_plugin.wasm"
