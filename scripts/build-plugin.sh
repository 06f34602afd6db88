#!/usr/bin/env bash
# Build the Feishu plugin component and the test fixture components (wasm32-wasip2,
# size-optimised profile). Output: target/wasm32-wasip2/plugin/*.wasm
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
out=target/wasm32-wasip2/plugin
cargo build -p mica-feishu-plugin -p fixture-outbound-probe -p fixture-misbehave \
    --target wasm32-wasip2 --profile plugin "$@"
# A second version of the Feishu plugin, for hot-swap tests: its own target directory, so the
# real plugin above is never built with the fixture feature.
cargo build -p mica-feishu-plugin --features fixture-v2 --target wasm32-wasip2 --profile plugin \
    --target-dir target/fixture-v2 "$@"
cp target/fixture-v2/wasm32-wasip2/plugin/mica_feishu_plugin.wasm "$out/fixture_feishu_v2.wasm"
# Components the host must refuse, one world per feature.
for world in unknown-import no-known-world; do
    cargo build -p fixture-odd --features "$world" --target wasm32-wasip2 --profile plugin \
        --target-dir "target/fixture-$world" "$@"
    cp "target/fixture-$world/wasm32-wasip2/plugin/fixture_odd.wasm" "$out/fixture_${world//-/_}.wasm"
done
# A plugin that declares the Feishu plugin's secret and webhook route, which the host must refuse.
cargo build -p fixture-misbehave --features impostor --target wasm32-wasip2 --profile plugin \
    --target-dir target/fixture-impostor "$@"
cp target/fixture-impostor/wasm32-wasip2/plugin/fixture_misbehave.wasm "$out/fixture_impostor.wasm"
echo "plugin: $(pwd)/$out/mica_feishu_plugin.wasm"
