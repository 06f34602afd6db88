"""Peer comparison (benchmark issue, section 3): the same cards to the same Feishu simulator, sent

  * by the Mica host (the real `mica-host` binary and plugin, events posted to its API; cards/s is
    event accepted -> card recorded by the simulator, CPU is the host process's),
  * by the official Python SDK (lark-oapi, one client reused, its token cache on),
  * by the naive pattern: a new HTTP session and a token fetch for every card.

CPU per card is the sending process's user+system time; the simulator runs in its own process and
is not counted for anyone, but its own CPU per card during each run is reported beside
(`sim_cpu_us_per_card`): it bounds what any sender can reach on the same cores. Prints one JSON
object per contender.

    python peers.py --sim http://127.0.0.1:9090 --sim-pid P --host http://127.0.0.1:8080 \
        --host-pid Q --token T --cards 2000
"""

import argparse
import json
import os
import time
import uuid

import requests

APP_ID = "cli_sim0000000000001"
APP_SECRET = "sim-secret-0000000000000000000001"
PER_EVENT = 50


def cpu_of(pid):
    """User + system seconds of process `pid` (clock ticks from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    """(VmRSS, VmHWM) of process `pid` in MiB: resident now, and the peak so far."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) / 1024
    return round(values["VmRSS"], 1), round(values["VmHWM"], 1)


def own_cpu():
    t = os.times()
    return t.user + t.system


def event(i, recipients):
    return {
        "id": f"evt-peer-{i}-{uuid.uuid4().hex[:8]}",
        "type": "po_created",
        "occurred_at": "2026-11-25T02:14:22Z",
        "recipients": [{"email": f"p{i}-{r}@example.com", "name": "Peer", "locale": "zh-CN"} for r in range(recipients)],
        "data": {
            "po_id": "po-77", "po_number": "PO-2026-0077", "supplier": "ACME Computers Ltd.",
            "amount": {"value": "12500.00", "currency": "CNY"},
            "pr_title": "Laptops for the new design team", "url": "https://mica.example.com/po/po-77",
        },
    }


def sent_cards(host, token):
    text = requests.get(f"{host}/metrics", headers={"Authorization": f"Bearer {token}"}).text
    total = 0
    for line in text.splitlines():
        if line.startswith("mica_deliveries_total{") and 'outcome="sent"' in line and 'kind="notify"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def run_host(args):
    auth = {"Authorization": f"Bearer {args.token}"}
    before = sent_cards(args.host, args.token)
    pid = args.host_pid
    idle_rss = rss_mib(pid)[0]
    cpu0, t0 = cpu_of(pid), time.perf_counter()
    session = requests.Session()
    events = args.cards // PER_EVENT
    for i in range(events):
        r = session.post(f"{args.host}/api/v1/events", json=event(i, PER_EVENT), headers=auth)
        r.raise_for_status()
    target = before + events * PER_EVENT
    while sent_cards(args.host, args.token) < target:
        time.sleep(0.02)
    wall, cpu = time.perf_counter() - t0, cpu_of(pid) - cpu0
    return {"contender": "mica-host", "cards": events * PER_EVENT, "seconds": wall, "host_cpu_seconds": cpu,
            "host_rss_idle_mib": idle_rss, "host_rss_after_run_mib": rss_mib(pid)[0],
            "host_rss_peak_mib": rss_mib(pid)[1]}


def card_json(args):
    """The card the plugin renders for the same event (so every contender sends the same bytes)."""
    r = requests.post(f"{args.host}/api/v1/admin/feishu/preview",
                      json={"event": event(0, 1), "locale": "zh-CN"},
                      headers={"Authorization": f"Bearer {args.token}"})
    r.raise_for_status()
    return json.dumps(r.json()["previews"][0]["card"], ensure_ascii=False)


def run_sdk(args, card):
    import lark_oapi as lark
    from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody

    client = lark.Client.builder().app_id(APP_ID).app_secret(APP_SECRET).domain(args.sim) \
        .log_level(lark.LogLevel.ERROR).build()
    cpu0, t0 = own_cpu(), time.perf_counter()
    for i in range(args.cards):
        body = CreateMessageRequestBody.builder().receive_id(f"sdk-{i}@example.com") \
            .msg_type("interactive").content(card).uuid(uuid.uuid4().hex).build()
        req = CreateMessageRequest.builder().receive_id_type("email").request_body(body).build()
        resp = client.im.v1.message.create(req)
        if not resp.success():
            raise SystemExit(f"SDK send failed: {resp.code} {resp.msg}")
    return {"contender": "lark-oapi (Python SDK)", "cards": args.cards,
            "seconds": time.perf_counter() - t0, "cpu_seconds": own_cpu() - cpu0}


def run_naive(args, card):
    cpu0, t0 = own_cpu(), time.perf_counter()
    for i in range(args.cards):
        with requests.Session() as s:
            token = s.post(f"{args.sim}/open-apis/auth/v3/tenant_access_token/internal",
                           json={"app_id": APP_ID, "app_secret": APP_SECRET}).json()["tenant_access_token"]
            r = s.post(f"{args.sim}/open-apis/im/v1/messages?receive_id_type=email",
                       headers={"Authorization": f"Bearer {token}"},
                       json={"receive_id": f"naive-{i}@example.com", "msg_type": "interactive",
                             "content": card, "uuid": uuid.uuid4().hex})
            if r.json().get("code") != 0:
                raise SystemExit(f"naive send failed: {r.text}")
    return {"contender": "naive (new client + token per card)", "cards": args.cards,
            "seconds": time.perf_counter() - t0, "cpu_seconds": own_cpu() - cpu0}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sim", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--host-pid", type=int, required=True)
    p.add_argument("--sim-pid", type=int, required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--cards", type=int, default=2000)
    args = p.parse_args()
    args.cards = max(PER_EVENT, args.cards // PER_EVENT * PER_EVENT)
    card = card_json(args)
    results = []
    for run in (run_host, run_sdk, run_naive):
        sim_cpu0 = cpu_of(args.sim_pid)
        r = run(args, card) if run is not run_host else run(args)
        r["sim_cpu_us_per_card"] = round((cpu_of(args.sim_pid) - sim_cpu0) / r["cards"] * 1e6, 1)
        results.append(r)
    for r in results:
        cpu = r.get("cpu_seconds", r.get("host_cpu_seconds"))
        r["cards_per_second"] = round(r["cards"] / r["seconds"], 1)
        r["cpu_us_per_card"] = round(cpu / r["cards"] * 1e6, 1)
        print(json.dumps(r, ensure_ascii=False))


if __name__ == "__main__":
    main()
