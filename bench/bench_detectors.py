"""Throughput of the per-customer fold: bare dedup+dispatch loop vs the full fold.

Generates a seeded synthetic stream (default 200k events over 2k customers, pre-parsed, time
ordered with a little jitter and ~1% duplicates), then folds it twice, keeping per-customer
state in a dict like a Faust table would:

(a) baseline: dedup by event_id plus the watermark, no detectors, no features;
(e)  the fold with the three detectors, on_event only (no ticks, no features);
(b') the same through ``replay`` (ticks included): the detectors' whole cost;
(b) the full fold: ``signals.customer_fold.default_fold`` (three detectors + signals.features),
    through ``replay`` (ticks at each customer's deadline).

Prints events/s of each (CPU time of this process, so other load on a shared machine distorts
less) and the ratios. Target: (b) >= 100k events/s on one core.

    .venv/bin/python bench/bench_detectors.py [--events 200000] [--customers 2000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import random
import time
from typing import Any

from tqdm import tqdm

from infra.settings import Settings
from signals.customer_fold import CustomerFold, default_fold, replay
from signals.events import parse_event

T0 = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)


def synthetic_stream(n_events: int, n_customers: int, seed: int = 7) -> list[Any]:
    """A seeded, roughly time-ordered stream of parsed events of every detector's kinds."""
    rng = random.Random(seed)
    span = dt.timedelta(days=60).total_seconds()
    raw: list[tuple[float, dict[str, Any]]] = []
    zones = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", None]
    for c in range(n_customers):
        tz = zones[c % len(zones)]
        raw.append((0.0, {"type": "customer.profile", "customer_id": f"c{c}", "properties": {"time_zone": tz}}))
    while len(raw) < n_events:
        c = rng.randrange(n_customers)
        at = rng.uniform(0, span)
        kind = rng.random()
        cid = f"c{c}"
        if kind < 0.55:
            usage = {"sessions": rng.randint(1, 4)}
            raw.append((at, {"type": "product.usage", "customer_id": cid, "properties": usage}))
        elif kind < 0.8:
            k = f"k{len(raw)}"
            raw.append((at, {"type": "checkout.started", "customer_id": cid,
                             "properties": {"checkout_id": k, "cart_value": round(rng.uniform(5, 200), 2)}}))
            t = at
            for _ in range(rng.randint(0, 3)):
                t += rng.uniform(5, 120)
                raw.append((t, {"type": "checkout.activity", "customer_id": cid, "properties": {"checkout_id": k}}))
            if rng.random() < 0.6:
                raw.append((t + rng.uniform(5, 60), {"type": "checkout.completed", "customer_id": cid,
                                                     "properties": {"checkout_id": k}}))
        else:
            o = f"o{len(raw)}"
            ship_by = T0 + dt.timedelta(seconds=at + 86400)
            raw.append((at, {"type": "order.placed", "customer_id": cid, "properties": {
                "order_id": o, "amount": round(rng.uniform(10, 300), 2),
                "promised_ship_by": ship_by.isoformat(),
                "promised_delivery_by": (ship_by + dt.timedelta(days=3)).isoformat()}}))
            shipped = at + rng.uniform(3600, 86400 * 1.3)
            eta = ship_by + dt.timedelta(days=rng.uniform(1, 4))
            shipping = {"order_id": o, "carrier": "UPS", "estimated_delivery_at": eta.isoformat()}
            raw.append((shipped, {"type": "order.shipped", "customer_id": cid, "properties": shipping}))
            if rng.random() < 0.05:
                problem = {"order_id": o, "status": "exception", "exception_code": "DAMAGED"}
                raw.append((shipped + 7200, {"type": "shipment.updated", "customer_id": cid, "properties": problem}))
            delivered = {"type": "order.delivered", "customer_id": cid, "properties": {"order_id": o}}
            raw.append((shipped + 86400 * 2, delivered))
    raw = raw[:n_events]
    # Small out-of-order jitter (up to 30 s) like a real broker, then ~1% redelivered duplicates.
    raw.sort(key=lambda pair: pair[0] + rng.uniform(0, 30))
    events = []
    for i, (at, body) in enumerate(tqdm(raw, desc="parse", unit="ev")):
        body = {**body, "event_id": f"e{i}", "occurred_at": (T0 + dt.timedelta(seconds=at)).isoformat()}
        event = parse_event(body)
        events.append(event)
        if rng.random() < 0.01:
            events.append(event)
    return events


def run_baseline(events: list[Any], window: int = 1000) -> float:
    """Seconds for the bare loop: per-customer dict state, dedup window, watermark, dispatch."""
    return run_events_only(events, CustomerFold([], dedup_window=window, features=None))


def run_events_only(events: list[Any], fold: CustomerFold) -> float:
    """Seconds for ``fold.on_event`` over the stream with no ticks at all."""
    states: dict[str, Any] = {}
    started = time.process_time()
    for event in events:
        key = event.customer_id
        states[key], _ = fold.on_event(states.get(key), event)
    return time.process_time() - started


def run_full(events: list[Any], fold: CustomerFold) -> tuple[float, int]:
    """Seconds for ``replay`` with the full fold (events, ticks, features), and signal count."""
    started = time.process_time()
    count = sum(1 for _ in replay(events, fold))
    return time.process_time() - started, count


def main() -> None:
    """Generate, measure, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of (b)")
    args = parser.parse_args()
    events = synthetic_stream(args.events, args.customers)
    fold = default_fold(Settings().detectors)
    detectors_only = CustomerFold(fold.detectors, allowed_lateness=fold.allowed_lateness, features=None)
    # Best of --repeat runs each: the machine is shared, the minimum is the least disturbed run.
    base_s = min(run_baseline(events) for _ in range(args.repeat))
    det_events_s = min(run_events_only(events, detectors_only) for _ in range(args.repeat))
    det_s = min(run_full(events, detectors_only)[0] for _ in range(args.repeat))
    full_s, signals = min(run_full(events, fold) for _ in range(args.repeat))
    n = len(events)
    print(f"events: {n:,} over {args.customers:,} customers, signals: {signals:,}, best of {args.repeat}")
    print(f"(a)  dedup+dispatch baseline      : {n / base_s:10,.0f} events/s")
    print(f"(e)  detectors, on_event only     : {n / det_events_s:10,.0f} events/s  ratio to (a) {base_s / det_events_s:.2f}")
    print(f"(b') fold, detectors only (replay): {n / det_s:10,.0f} events/s  ratio to (a) {base_s / det_s:.2f}")
    print(f"(b)  full fold + features (replay): {n / full_s:10,.0f} events/s  ratio to (a) {base_s / full_s:.2f}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run_full(events, fold)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
