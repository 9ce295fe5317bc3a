"""Outbox drain to a provider that answers in 20 ms: messages/s and duplicates, against one-at-a-time sending.

    .venv/bin/python bench/bench_outbox_drain.py [--messages 1000] [--latency-ms 20] [--concurrency 16] [--json]
                                                 [--provider-in-process]

The same number of outbox rows (customers with an e-mail address, one engaging decision each) is
drained twice on a fresh SQLite database by the real ``Sender`` (claim, chunk reads, draft,
consent re-check and ``sending`` commit in one transaction per chunk, provider call, results
recorded in bulk), through the local fake SendGrid (``tests/fakes/sendgrid_api.py``, which checks
every request) holding each answer ``--latency-ms``:

1. baseline: ``concurrency=1`` (one provider call at a time: at most 1 / latency messages/s),
2. ``--concurrency`` provider calls in flight (every database write still in the sender's thread).

The fake runs in a child process: the real provider is a remote server, and a fake in the
sender's own process would charge its HTTP parsing and checks (about 0.5 ms a request) to the
sender's interpreter lock, a cost the service never pays. ``--provider-in-process`` measures
that setup anyway.

Rate = messages accepted by the provider / wall time of the drain (passes of ``run_once`` until
no row is left). Duplicates are counted by the provider: message ids it accepted more than once.
Goal (issue 11): >= 500 messages/s with 0 duplicates.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlmodel import Session
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from outreach.channels.sendgrid import SendGridChannel  # noqa: E402
from outreach.outbox import service as outbox  # noqa: E402
from outreach.outbox.sender import Sender  # noqa: E402
from tests.fakes.http_server import Reply  # noqa: E402
from tests.fakes.outreach_world import CONFIG, T0, add_customer, decision, simple_compose, sqlite_engine  # noqa: E402
from tests.fakes.sendgrid_api import FakeSendGrid  # noqa: E402

GOAL = 500.0


class SlowSendGrid(FakeSendGrid):
    """The fake SendGrid, answering every request after ``latency`` seconds (its threads overlap)."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.latency = latency

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        time.sleep(self.latency)  # the provider's answer time
        return super().handle(method, path, headers, body)


@dataclasses.dataclass
class Provider:
    """Where the fake listens; ``accepted_ids`` (message ids, in arrival order) are filled when it stops."""

    url: str
    api_key: str
    accepted_ids: list[str] = dataclasses.field(default_factory=list)


def serve_provider(latency: float) -> None:
    """The child process: a ``SlowSendGrid`` until stdin closes, then the accepted message ids as JSON."""
    with SlowSendGrid(latency) as fake:
        print(json.dumps({"url": fake.url, "api_key": fake.api_key}), flush=True)
        sys.stdin.read()
        ids = [message["custom_args"]["message_id"] for message in fake.accepted]
    print(json.dumps(ids), flush=True)


@contextlib.contextmanager
def provider(latency: float, in_process: bool) -> Iterator[Provider]:
    """The fake SendGrid, in a child process (or in this one); its accepted ids once the block ends."""
    if in_process:
        with SlowSendGrid(latency) as fake:
            found = Provider(fake.url, fake.api_key)
            yield found
            found.accepted_ids = [message["custom_args"]["message_id"] for message in fake.accepted]
        return
    child = subprocess.Popen([sys.executable, __file__, "--serve-provider", str(latency)], text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        hello = json.loads(child.stdout.readline())
        found = Provider(hello["url"], hello["api_key"])
        yield found
        out, _ = child.communicate(timeout=60)  # closing stdin stops the fake
        found.accepted_ids = json.loads(out)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def drain(messages: int, latency: float, concurrency: int, batch: int, in_process: bool = False) -> dict[str, Any]:
    """Fill a fresh outbox with ``messages`` rows and send them all; rate, passes and duplicates."""
    with tempfile.TemporaryDirectory() as tmp, provider(latency, in_process) as fake:
        engine = sqlite_engine(tmp)
        customers = [f"c{i:05d}" for i in range(messages)]
        for customer in tqdm(customers, desc=f"customers (concurrency {concurrency})", file=sys.stderr, leave=False):
            add_customer(engine, customer, email=f"{customer}@example.com")
        with Session(engine) as session:
            for customer in customers:
                outbox.enqueue(session=session, decision=decision(customer), now=T0)
            session.commit()
        channel = SendGridChannel(fake.api_key, from_email="n@example.com", host=fake.url, timeout=10)
        sender = Sender(engine, channels={"email": channel}, compose=simple_compose, rng=random.Random(0),
                        config=dataclasses.replace(CONFIG, concurrency=concurrency))
        sent, passes = Counter(), 0
        progress = tqdm(total=messages, desc=f"drain (concurrency {concurrency})", file=sys.stderr, leave=False)
        started = time.perf_counter()
        while sum(sent.values()) < messages and passes < 10 * messages:
            report = sender.run_once(T0, limit=batch)
            passes += 1
            sent.update(report.counts)
            progress.update(sum(report.counts.values()))
            if not report.counts:
                break
        elapsed = time.perf_counter() - started
        progress.close()
        engine.dispose()
    accepted = len(fake.accepted_ids)
    duplicates = accepted - len(set(fake.accepted_ids))
    return {"concurrency": concurrency, "messages": messages, "accepted": accepted, "states": dict(sent),
            "seconds": round(elapsed, 3), "per_second": round(accepted / elapsed, 1), "passes": passes,
            "duplicates": duplicates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--baseline-messages", type=int, default=150, help="rows drained one at a time")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=200, help="rows claimed per sender pass")
    parser.add_argument("--provider-in-process", action="store_true",
                        help="run the fake provider in the sender's process (shares its interpreter lock)")
    parser.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    parser.add_argument("--serve-provider", type=float, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.serve_provider is not None:
        serve_provider(args.serve_provider)
        return

    latency, in_process = args.latency_ms / 1000, args.provider_in_process
    baseline = drain(args.baseline_messages, latency, 1, args.batch, in_process)
    pooled = drain(args.messages, latency, args.concurrency, args.batch, in_process)
    ratio = pooled["per_second"] / baseline["per_second"]
    where = "in the sender's process" if in_process else "in a child process"
    if args.json:
        print(json.dumps({"latency_ms": args.latency_ms, "provider": where, "baseline": baseline, "pooled": pooled,
                          "ratio": round(ratio, 2), "goal_per_second": GOAL}, indent=2))
        return
    print(f"provider latency {args.latency_ms:.0f} ms (fake SendGrid {where}), SQLite outbox, "
          f"{args.batch} rows per pass")
    print(f"{'run':<22} {'messages':>9} {'seconds':>8} {'msgs/s':>8} {'duplicates':>11} states")
    for name, run in (("baseline (1 in flight)", baseline), (f"pool ({args.concurrency} in flight)", pooled)):
        print(f"{name:<22} {run['accepted']:>9} {run['seconds']:>8.2f} {run['per_second']:>8.1f} "
              f"{run['duplicates']:>11} {run['states']}")
    print(f"ratio pool / baseline: {ratio:.2f}x; goal >= {GOAL:.0f} msgs/s with 0 duplicates: "
          f"{'met' if pooled['per_second'] >= GOAL and pooled['duplicates'] == 0 else 'NOT met'} (shared machine)")
    own = 1000 / baseline["per_second"] - args.latency_ms
    print(f"per message: {1000 / baseline['per_second']:.1f} ms one at a time = {args.latency_ms:.0f} ms provider + "
          f"{own:.1f} ms of the sender's own work; with the pool {1000 / pooled['per_second']:.1f} ms "
          f"(the floor is {args.latency_ms / args.concurrency:.2f} ms: latency / calls in flight)")


if __name__ == "__main__":
    main()
