"""Ack-to-send latency under load: from the 202 at ingest to the provider receiving the message.

    .venv/bin/python bench/bench_ack_to_send.py [--light 20] [--heavy 400] [--batch 50] [--json]

One ``retain up`` (single-box: embedded broker, SQLite) with the local fake SendGrid as the e-mail
provider. Each customer gets a profile and an order whose promised ship-by has already passed,
so the next tick of its worker produces a ``shipping_delay`` signal, a rule engages it and the
sender e-mails the customer. For each customer: seconds from the 202 that acknowledged its
events to the fake SendGrid accepting its message (both clocks are this process's monotonic clock).

* baseline (light load): ``--light`` customers posted one request each, one after another,
  each only after the previous customer's message arrived (nothing queued behind it);
* under load: ``--heavy`` customers posted in batches of ``--batch`` as fast as ingest answers.

Printed: p50 / p99 / max of each and the ratio load / light, with the load level (events/s
acknowledged). The machine is shared: the service, the broker and this client share its cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.http_server import Reply  # noqa: E402
from tests.fakes.sendgrid_api import FakeSendGrid  # noqa: E402
from tests.rule_files import rules_yaml, service_rule  # noqa: E402
from tests.service_process import RetainService  # noqa: E402

RULES = rules_yaml(service_rule("late-parcel", "shipping_delay", "Tell the customer the parcel is late.",
                                priority=20, relevance="2d"))


class TimedSendGrid(FakeSendGrid):
    """The fake SendGrid, noting when each recipient's message was accepted."""

    def __init__(self) -> None:
        super().__init__("SG.bench-key")
        self.arrived: dict[str, float] = {}
        self.arrival = threading.Condition()

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        reply = super().handle(method, path, headers, body)
        if reply.status == 202:
            to = json.loads(body)["personalizations"][0]["to"][0]["email"]
            with self.arrival:
                self.arrived.setdefault(to, time.monotonic())
                self.arrival.notify_all()
        return reply

    def wait_for(self, addresses: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.arrival:
            while not addresses <= set(self.arrived):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"{len(addresses - set(self.arrived))} messages not sent within {timeout}s")
                self.arrival.wait(left)


def _events(customer: str) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.timezone.utc)
    return [
        {"event_id": f"{customer}-p", "customer_id": customer, "type": "customer.profile",
         "occurred_at": (now - dt.timedelta(days=1)).isoformat(),
         "properties": {"first_name": "Ada", "email": f"{customer}@example.com", "time_zone": "UTC", "locale": "en"}},
        {"event_id": f"{customer}-o", "customer_id": customer, "type": "order.placed",
         "occurred_at": (now - dt.timedelta(hours=3)).isoformat(),
         "properties": {"order_id": "o1", "amount": 80, "promised_ship_by": (now - dt.timedelta(hours=1)).isoformat(),
                        "promised_delivery_by": (now + dt.timedelta(days=2)).isoformat()}},
    ]


def _post(client: httpx.Client, events: list[dict[str, Any]]) -> float:
    response = client.post("/v1/events", json=events)
    if response.status_code != 202:
        raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")
    return time.monotonic()


def _percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"p50": statistics.median(ordered), "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "max": ordered[-1], "count": len(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--light", type=int, default=20, help="customers at light load (one at a time)")
    parser.add_argument("--heavy", type=int, default=400, help="customers under load")
    parser.add_argument("--batch", type=int, default=50, help="customers per request under load")
    parser.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, TimedSendGrid() as sendgrid:
        rules = Path(tmp) / "rules"
        rules.mkdir()
        (rules / "rules.yaml").write_text(RULES)
        env = {"RETAIN_RULES_DIR": str(rules), "RETAIN_APP_ID": f"bench-ack-{uuid.uuid4().hex[:6]}",
               "RETAIN_ALLOWED_LATENESS_SECONDS": "1", "RETAIN_STREAM_TICK_INTERVAL_SECONDS": "0.2",
               "RETAIN_OUTREACH_SEND_INTERVAL_SECONDS": "0.2", "RETAIN_TOPIC_PARTITIONS": "2",
               "RETAIN_EMAIL_RATE_PER_SECOND": "10000", "RETAIN_SENDGRID_API_KEY": sendgrid.api_key,
               "RETAIN_SENDGRID_HOST": sendgrid.url}
        service = RetainService(Path(tmp) / "data", env=env).start()
        try:
            print("starting retain up ...", file=sys.stderr)
            service.wait_http("/readyz", timeout=120, ok=lambda r: r.status_code == 200)
            with httpx.Client(base_url=service.url, timeout=60) as client:
                light: list[float] = []
                for i in tqdm(range(args.light), desc="light load", file=sys.stderr):
                    customer = f"light-{i:04d}"
                    acked = _post(client, _events(customer))
                    sendgrid.wait_for({f"{customer}@example.com"}, 60)
                    light.append(sendgrid.arrived[f"{customer}@example.com"] - acked)
                acks: dict[str, float] = {}
                customers = [f"heavy-{i:05d}" for i in range(args.heavy)]
                started = time.monotonic()
                for i in tqdm(range(0, len(customers), args.batch), desc="under load", file=sys.stderr):
                    chunk = customers[i:i + args.batch]
                    acked = _post(client, [e for c in chunk for e in _events(c)])
                    acks.update({c: acked for c in chunk})
                feed_seconds = time.monotonic() - started
                sendgrid.wait_for({f"{c}@example.com" for c in customers}, 300)
                heavy = [sendgrid.arrived[f"{c}@example.com"] - acks[c] for c in customers]
        finally:
            service.terminate()
            service.__exit__()
    load = {"customers": args.heavy, "events": 2 * args.heavy, "feed_seconds": round(feed_seconds, 2),
            "events_per_second_acked": round(2 * args.heavy / feed_seconds, 1)}
    result = {"light": _percentiles(light), "load": _percentiles(heavy), "load_level": load}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"load: {args.heavy} customers ({2 * args.heavy} events) acknowledged in {feed_seconds:.2f}s "
          f"= {load['events_per_second_acked']:.0f} events/s, batches of {args.batch}; provider: fake SendGrid")
    print(f"{'run':<28} {'n':>5} {'p50':>8} {'p99':>8} {'max':>8}")
    for name, row in (("light (one at a time)", result["light"]), ("under load", result["load"])):
        print(f"{name:<28} {row['count']:>5} {row['p50']:>7.2f}s {row['p99']:>7.2f}s {row['max']:>7.2f}s")
    print(f"ratio load / light: p50 {result['load']['p50'] / result['light']['p50']:.2f}x, "
          f"p99 {result['load']['p99'] / result['light']['p99']:.2f}x (shared machine)")


if __name__ == "__main__":
    main()
