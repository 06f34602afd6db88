#!/usr/bin/env bash
# Every benchmark of docs/benchmarks.md in one run, results in target/bench/.
#   scripts/bench.sh           full sizes, release build (about 5 minutes on the 2-core machine)
#   scripts/bench.sh --smoke   tiny sizes on the debug build CI already has: proves the benchmarks
#                              still run; its figures mean nothing
set -euo pipefail
cd "$(dirname "$0")/.."
smoke=false
if [ "${1:-}" = "--smoke" ]; then smoke=true; fi

if $smoke; then
    profile=debug; build=(); cards=200; store_cards=200; webhook=(--rate 100 --seconds 1); peer_cards=100
    priority=(--bulk 60 --every 0.2)
else
    profile=release; build=(--release); cards=10000; store_cards=5000; webhook=(--rate 500 --seconds 10); peer_cards=2000
    priority=(--bulk 1500 --every 1)
fi
out=target/bench
mkdir -p "$out"
log="$out/results-$(date -u +%Y%m%dT%H%M%SZ)-$profile.txt"
exec > >(tee "$log") 2>&1
echo "# $(date -u) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

./scripts/build-plugin.sh >/dev/null
cargo build "${build[@]}" -p mica-host -p mica-tests -p mica-bench --bins
bin="target/$profile"

echo; echo "## 1. plugin overhead vs native"
if $smoke; then
    cargo test -p mica-bench --benches   # criterion's test mode: each benchmark runs once
else
    cargo bench -p mica-bench --bench overhead
fi
"$bin/bench-cpu" --cards "$([ "$smoke" = true ] && echo 200 || echo 20000)"

echo; echo "## 2. throughput to a loopback Feishu (host, plugin and simulator in one process)"
"$bin/bench-delivery" --cards "$cards" --per-event 50 --concurrency 16

echo; echo "## 9. the store: SQLite beside PostgreSQL with one and two hosts (a cluster of this run's own)"
pg_dir=$(mktemp -d /tmp/mica-bench-pg.XXXXXX)
trap './scripts/pg-cluster.sh stop "$pg_dir"' EXIT
pg_url=$(./scripts/pg-cluster.sh start "$pg_dir")
for replicas in 1 2; do
    MICA_TEST_DATABASE_URL="$pg_url" "$bin/bench-delivery" --cards "$store_cards" --per-event 50 --concurrency 16 \
        --replicas "$replicas"
done
./scripts/pg-cluster.sh stop "$pg_dir"
trap - EXIT

echo; echo "## 5. swap under load (the active version switched every 100 ms while the cards go out)"
"$bin/bench-delivery" --cards "$cards" --per-event 50 --concurrency 16 --swap-every-ms 100

echo; echo "## 8. an approval card behind a bulk backlog, Feishu's limits on (about 75 s at full size)"
"$bin/bench-priority" "${priority[@]}"

echo; echo "## 4. webhook latency"
"$bin/bench-webhook" "${webhook[@]}"

echo; echo "## 3, 5, 6. peers, lifecycle and memory (the mica-host binary in its own process)"
venv=target/bench-venv
./scripts/python-venv.sh "$venv"
"$venv/bin/pip" install -q -r bench/peers/requirements.txt
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sim_port=$(free_port); host_port=$(free_port)
"$bin/feishu-sim" --listen "127.0.0.1:$sim_port" >/dev/null &
sim_pid=$!
pids+=("$sim_pid")
export MICA_ADMIN_TOKEN=bench-admin-token-0123456789
host_url="http://127.0.0.1:$host_port"
wait_ready() { until curl -sf "$host_url/healthz" >/dev/null; do sleep 0.01; done; }
start_host() {
    "$bin/mica-host" serve --data-dir "$work/data" --listen "127.0.0.1:$host_port" --no-rate-limits \
        --plugin target/wasm32-wasip2/plugin/mica_feishu_plugin.wasm >"$work/host.log" 2>&1 &
    host_pid=$!
    pids+=("$host_pid")
}
t0=$(date +%s.%N); start_host; wait_ready; t1=$(date +%s.%N)
echo "cold start to ready, empty compile cache: $(awk "BEGIN { printf \"%.0f\", ($t1 - $t0) * 1000 }") ms"
kill "$host_pid"; wait "$host_pid" 2>/dev/null || true
t0=$(date +%s.%N); start_host; wait_ready; t1=$(date +%s.%N)
echo "start to ready, compile cache warm: $(awk "BEGIN { printf \"%.0f\", ($t1 - $t0) * 1000 }") ms"
auth=(-H "Authorization: Bearer $MICA_ADMIN_TOKEN")
curl -sf -X PUT "$host_url/api/v1/admin/feishu/settings" "${auth[@]}" -H 'Content-Type: application/json' \
    -d "{\"base_url\": \"http://127.0.0.1:$sim_port\", \"app_id\": \"cli_sim0000000000001\",
         \"app_secret\": \"sim-secret-0000000000000000000001\", \"enabled\": true}" >/dev/null
v2=target/wasm32-wasip2/plugin/fixture_feishu_v2.wasm
curl -sf -X POST "$host_url/api/v1/admin/plugins" "${auth[@]}" -H 'Content-Type: application/wasm' \
    --data-binary "@$v2" >/dev/null
echo "activate an installed version: $(curl -sf -o /dev/null -w '%{time_total}' -X POST "$host_url/api/v1/admin/plugins/feishu/activate" "${auth[@]}" -H 'Content-Type: application/json' -d '{"version": "0.2.0-fixture"}') s"
echo "roll back: $(curl -sf -o /dev/null -w '%{time_total}' -X POST "$host_url/api/v1/admin/plugins/feishu/rollback" "${auth[@]}") s"
"$venv/bin/python" bench/peers/peers.py --sim "http://127.0.0.1:$sim_port" --host "$host_url" \
    --host-pid "$host_pid" --sim-pid "$sim_pid" --token "$MICA_ADMIN_TOKEN" --cards "$peer_cards"
echo; echo "## 7. the Mica bridge on PostgreSQL: emit's cost, the drainer's rate, Mica's in-process sending"
./scripts/install-bridge.sh
smoke_flag=(); if $smoke; then smoke_flag=(--smoke); fi
target/bridge-venv/bin/python bench/bridge/bench_bridge.py --host-bin "$bin/mica-host" \
    --sim-bin "$bin/feishu-sim" "${smoke_flag[@]}"
echo; echo "results: $log"
