"""Time until a restarted ``retain up`` answers ingest and the consent webhooks, against until it is ready.

    .venv/bin/python bench/bench_restart.py [--runs 1] [--json]

Single-box mode (embedded broker, SQLite) on a fresh data dir: a first start (migrations, keys),
a SIGTERM, then ``--runs`` restarts after SIGTERM and ``--runs`` after kill -9 with events
acknowledged just before the kill. For each start, from the process start (``Popen``):

* ``ingest``: the first ``POST /v1/events`` answered 202,
* ``unsubscribe``: the first one-click ``POST /outreach/unsubscribe`` answered 200,
* ``ready``: the first ``GET /readyz`` answered 200 (worker, model, projection, scheduler up).

The baseline is readiness in the same run: the ratio ingest/ready says how much of the start the
API no longer waits for (issue 11 goal: the API within 5 s of a restart). Polling every 20 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from outreach.tokens import UNSUBSCRIBE, make_token  # noqa: E402
from tests.service_process import RetainService  # noqa: E402

GOAL_SECONDS = 5.0
SECRET = "bench-unsubscribe-secret-0123456789"


def _event(customer: str) -> dict:
    now = dt.datetime.now(dt.timezone.utc)
    return {"event_id": f"{customer}-{uuid.uuid4().hex[:8]}", "customer_id": customer, "type": "checkout.started",
            "occurred_at": now.isoformat(), "properties": {"checkout_id": "k1", "cart_value": 40}}


def measure_start(service: RetainService, timeout: float = 120.0) -> dict[str, float]:
    """Seconds from the process start to the first 202, 200 from unsubscribe, and 200 from /readyz."""
    token = make_token(SECRET.encode(), purpose=UNSUBSCRIBE, customer_id="bench-u", now=dt.datetime.now(dt.timezone.utc),
                       channel="email", topic="marketing")
    found: dict[str, float] = {}
    deadline = service.started_at + timeout
    with httpx.Client(base_url=service.url, timeout=2) as client:
        while len(found) < 3 and time.monotonic() < deadline:
            probes = {
                "ingest": lambda: client.post("/v1/events", json=[_event("bench-c")]).status_code == 202,
                "unsubscribe": lambda: client.post("/outreach/unsubscribe", params={"token": token}).status_code == 200,
                "ready": lambda: client.get("/readyz").status_code == 200,
            }
            for name, probe in probes.items():
                if name in found:
                    continue
                try:
                    if probe():
                        found[name] = time.monotonic() - service.started_at
                except httpx.HTTPError:
                    pass
            time.sleep(0.02)  # polling interval
    if len(found) < 3:
        raise RuntimeError(f"not everything answered within {timeout}s: {found}\n{service.log()}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="restarts of each kind")
    parser.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    args = parser.parse_args()

    results: dict[str, list[dict[str, float]]] = {"sigterm": [], "kill -9": []}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {"RETAIN_UNSUBSCRIBE_SECRET": SECRET, "RETAIN_APP_ID": f"bench-restart-{uuid.uuid4().hex[:6]}",
               "RETAIN_TOPIC_PARTITIONS": "2"}
        first = RetainService(data, env=env).start()
        try:
            first_start = measure_start(first)
        finally:
            first.terminate()
            first.__exit__()
        port = first.port
        # sigterm: each start follows a clean stop. kill -9: each start follows a kill of a
        # service that had just acknowledged 50 events (the first kill is of an unmeasured start).
        plan = ["sigterm"] * args.runs + [None] + ["kill -9"] * args.runs
        for kind in tqdm(plan, desc="restarts", file=sys.stderr):
            service = RetainService(data, env=env, port=port).start()
            try:
                measured = measure_start(service)
                if kind is not None:
                    results[kind].append(measured)
                if kind == "sigterm":
                    service.terminate()
                else:
                    httpx.post(service.url + "/v1/events", json=[_event(f"k-{i}") for i in range(50)], timeout=10)
                    service.kill()
            finally:
                service.__exit__()
    summary = {"first start": first_start}
    for kind, runs in results.items():
        summary[f"restart after {kind}"] = {name: statistics.median(run[name] for run in runs)
                                            for name in ("ingest", "unsubscribe", "ready")}
    if args.json:
        print(json.dumps({"goal_seconds": GOAL_SECONDS, "medians": summary, "runs": results}, indent=2))
        return
    print(f"{'start':<36} {'ingest 202':>10} {'unsubscribe':>12} {'/readyz 200':>12} {'ingest/ready':>13}")
    for name, row in summary.items():
        print(f"{name:<36} {row['ingest']:>9.2f}s {row['unsubscribe']:>11.2f}s {row['ready']:>11.2f}s "
              f"{row['ingest'] / row['ready']:>12.2f}x")
    worst = max(max(r["ingest"], r["unsubscribe"]) for runs in results.values() for r in runs)
    print(f"goal: API within {GOAL_SECONDS:.0f} s of a restart; worst restart here {worst:.2f}s "
          f"({'met' if worst <= GOAL_SECONDS else 'NOT met'}; medians over {args.runs} runs, shared machine)")


if __name__ == "__main__":
    main()
