"""``retain demo``: the whole service on embedded defaults, fed by a simulated shop.

Two upstream sources feed it, the way real shops do: the storefront posts its events to the HTTP
ingest API (batches, retrying without the events the API refused), and a legacy order system
writes order and shipment events straight onto the ``events`` topic, which is where the odd
malformed record gets in and lands in ``deadletter``. Messages the service sends go to the local
sink, and from there to the simulated customers, who react through the real webhooks
(``retain.demo_reactions``) at published industry rates, so in a default run no rule earns a pause.
``--inject-bad-rule`` adds one rule its recipients do not want (``promo-blast``, a cooldown-free
discount blast) to a copy of the rules, once, to show the reputation guard pausing it. Live counts
are shown until Ctrl-C or ``--duration``; ``--json`` prints one summary object at the end, with
``messages`` (by channel and status), ``opt_outs`` (by source), ``suppressed`` (held-back
messages by reason), ``paused_rules`` and ``reputation`` (the guard's evidence per sending rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import secrets
import shutil
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine, func, select
from rich.console import Console
from rich.live import Live
from rich.table import Table
from sqlmodel import Session

from outreach.consent.records import ConsentChangeRecord
from outreach.outbox.records import DRAFTED, PENDING, SENDING, SENT, SUPPRESSED, OutboxRecord, RulePauseRecord
from outreach.reputation import standing
from retain.demo_reactions import SimulatedRecipients
from infra.database import session_scope
from retain.runtime import Runtime
from infra.settings import ReputationSettings, Settings
from simulator.arrival_noise import ArrivalNoise
from simulator.live import LiveFeed
from infra.stream_app import EVENTS

# Order and shipment events come from the "order system", which writes to Kafka directly.
DIRECT_PREFIXES = ("order.", "shipment.")
# The example rules of the source tree: what the demo runs when started where there are none.
EXAMPLE_RULES = Path(__file__).resolve().parents[1] / "rules"


# The rule ``--inject-bad-rule`` adds: it takes every idle cart and usage dip no real rule wanted,
# however old (30 days), with no cooldown and a pushy discount. Its recipients never wanted it.
BAD_RULE_ID = "promo-blast"
BAD_RULE = f"""schema_version: 1
rules:
  - id: {BAD_RULE_ID}
    version: 1
    description: Injected by `retain demo --inject-bad-rule` to show the reputation guard. Do not copy.
    signals: [checkout_idle, usage_drop]
    topic: marketing
    priority: 1
    cooldown: 0
    relevance: 30d
    holdout_pct: 0
    action:
      channels: [email]
      brief: Push the discount hard, whatever the customer did.
      tone: pushy
      offers:
        - {{code: BLAST30, description: "30 % off everything today"}}
      requires_approval: false
"""


def with_injected_rule(settings: Settings, console: Console) -> Settings:
    """The settings, pointed at a fresh copy of the rules in the data dir with the bad rule added."""
    target = settings.data_dir / "demo-rules"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(settings.rules_dir, target, ignore=shutil.ignore_patterns("*.md", "__pycache__"))
    (target / f"{BAD_RULE_ID}.yaml").write_text(BAD_RULE)
    console.print(f"injected the bad rule [bold]{BAD_RULE_ID}[/] into a copy of the rules ({target}): "
                  "watch the reputation guard pause it")
    return settings.model_copy(update={"rules_dir": target})


def with_example_rules(settings: Settings, console: Console) -> Settings:
    """The settings, with the example rules when the configured rules folder does not exist."""
    if settings.rules_dir.exists() or not EXAMPLE_RULES.is_dir():
        return settings
    console.print(f"no rules folder at {settings.rules_dir}: using the example rules in {EXAMPLE_RULES}")
    return settings.model_copy(update={"rules_dir": EXAMPLE_RULES})


class Feeder:
    """Sends the simulator's events through the API and the direct path; counts outcomes."""

    def __init__(self, api_url: str, bootstrap: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30.0)
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        self.sent: Counter[str] = Counter()

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()
        await self.http.aclose()

    async def send(self, events: list[dict[str, Any]]) -> None:
        """Route each event to its source's path."""
        direct = [e for e in events if str(e.get("type", "")).startswith(DIRECT_PREFIXES)]
        via_api = [e for e in events if not str(e.get("type", "")).startswith(DIRECT_PREFIXES)]
        for start in range(0, len(via_api), 500):
            await self._post(via_api[start:start + 500])
        for event in direct:
            key = str(event.get("customer_id", "")).encode() or None
            await self.producer.send(EVENTS, json.dumps(event).encode(), key=key)
        await self.producer.flush()
        self.sent["direct"] += len(direct)

    async def _post(self, batch: list[dict[str, Any]]) -> None:
        while batch:
            response = await self.http.post("/v1/events", json=batch)
            if response.status_code == 202:
                self.sent["api"] += len(batch)
                return
            if response.status_code != 422:
                response.raise_for_status()
            # The API names each refused event by its index; resend the others, as a client should.
            bad = {err["loc"][0] for err in response.json()["detail"] if err.get("loc")}
            self.sent["rejected_by_api"] += len(bad)
            batch = [e for i, e in enumerate(batch) if i not in bad]


def _progress_table(elapsed: float, feeder: Feeder, runtime: Runtime,
                    recipients: SimulatedRecipients | None = None) -> Table:
    summary = runtime.summary()
    worker, projected = summary["worker"], summary["projected"]
    table = Table(title=f"retain demo - {elapsed:5.0f} s", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("events sent via API", str(feeder.sent["api"]))
    table.add_row("events sent to Kafka directly", str(feeder.sent["direct"]))
    table.add_row("refused by the API (4xx)", str(feeder.sent["rejected_by_api"]))
    table.add_row("events processed by the worker", str(worker.get("events", 0)))
    for kind, count in sorted(worker.get("signals", {}).items()):
        table.add_row(f"signals: {kind}", str(count))
    table.add_row("dead-lettered", str(worker.get("deadletter", 0)))
    table.add_row("customers quarantined", str(worker.get("quarantined", 0)))
    health = worker.get("health", {})
    table.add_row("ready", "yes" if health.get("ready") else "no: " + ", ".join(health.get("problems", {})))
    table.add_row("signals stored in SQL", str(sum(projected.get("signals", {}).values())))
    outreach = summary["outreach"]
    table.add_row("decisions put in the outbox", str(outreach["enqueue"].get("enqueued", 0)))
    for state, count in sorted(outreach["sender"].items()):
        table.add_row(f"messages: {state}", str(count))
    if recipients is not None:
        for reaction, count in sorted(recipients.reactions.items()):
            table.add_row(f"reactions: {reaction}", str(count))
    return table


def suppression_reason(last_error: str | None) -> str:
    """A countable reason of a suppressed message (a pause's text names its rates: keep the kind)."""
    reason = last_error or "unknown"
    return "rule_paused" if reason.startswith("rule paused") else reason


def reputation_summary(session: Session, reputation: ReputationSettings, now: dt.datetime) -> dict[str, Any]:
    """Per rule that sent: the reputation guard's evidence now, and whether it is paused."""
    rule_ids = session.scalars(select(OutboxRecord.rule_id).distinct().where(OutboxRecord.state == SENT)).all()
    out = {}
    for rule_id in sorted(rule_ids):
        verdict = standing(session=session, rule_id=rule_id, now=now, reputation=reputation)
        out[rule_id] = {
            "paused": session.get(RulePauseRecord, rule_id) is not None, "evidence_says_pause": verdict.pause,
            "measures": {e.measure: {"reactions": e.reactions, "sends": e.sends, "rate": round(e.rate, 5),
                                     "lower_bound": round(e.lower, 5), "limit": e.limit, "over": e.over}
                         for e in verdict.evidence if e.sends}}
    return out


def outreach_summary(engine: Engine, reputation: ReputationSettings | None = None) -> dict[str, Any]:
    """Messages by channel and status, opt-outs by source, suppressed messages by reason, paused rules, guard evidence."""
    with Session(engine) as session:
        by_state = session.execute(select(OutboxRecord.channel, OutboxRecord.state, func.count())
                                   .group_by(OutboxRecord.channel, OutboxRecord.state)).all()
        opt_outs = session.execute(select(ConsentChangeRecord.source, func.count())
                                   .where(ConsentChangeRecord.status == "opted_out")
                                   .group_by(ConsentChangeRecord.source)).all()
        suppressed = session.scalars(select(OutboxRecord.last_error).where(OutboxRecord.state == SUPPRESSED)).all()
        paused = {pause.rule_id: pause.reason for pause in session.scalars(select(RulePauseRecord))}
        guard = (reputation_summary(session, reputation, dt.datetime.now(dt.timezone.utc))
                 if reputation is not None else {})
    messages: dict[str, dict[str, int]] = {}
    for channel, state, count in by_state:
        messages.setdefault(channel, {})[state] = count
    return {"messages": messages, "opt_outs": dict(opt_outs),
            "suppressed": dict(Counter(suppression_reason(reason) for reason in suppressed)), "paused_rules": paused,
            "reputation": guard}


async def run_demo(settings: Settings, *, duration: float | None, customers: int, seed: int,
                   speedup: float, console: Console, show_progress: bool = True,
                   inject_bad_rule: bool = False) -> dict[str, Any]:
    """Run until ``duration`` seconds pass or SIGINT/SIGTERM; return the summary."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    feed = LiveFeed(population_size=customers, seed=seed, speedup=speedup,
                    noise=ArrivalNoise(duplicate_share=0.002, late_share=0.002, malformed_share=0.001))
    settings = with_example_rules(settings, console)
    if inject_bad_rule:
        settings = with_injected_rule(settings, console)
    console.print("[bold]retain demo[/]: starting broker, database, worker, API and scheduler ...")
    started = time.monotonic()
    async with Runtime(settings) as runtime:
        token = settings.ingest_token.get_secret_value() if settings.ingest_token else None
        feeder = Feeder(runtime.api_url, runtime.bootstrap, token)
        await feeder.start()
        assert runtime.sender is not None and runtime.engine is not None
        recipients = SimulatedRecipients(
            react=feed.deliver_message, channels=runtime.sender.channels, engine=runtime.engine,
            api_url=runtime.api_url, public_base_url=runtime.settings.public_base_url, keys=runtime.webhook_keys,
            unwanted_rules=frozenset({BAD_RULE_ID}) if inject_bad_rule else frozenset())
        console.print(f"API on {runtime.api_url}  (docs: {runtime.api_url}/docs)   broker {runtime.bootstrap}")
        console.print(await asyncio.to_thread(_demo_login, runtime))
        started = time.monotonic()  # the duration counts from a ready service, not from start-up
        live_ctx = Live(console=console, refresh_per_second=2) if show_progress else contextlib.nullcontext()
        try:
            with live_ctx as live:
                while not stop.is_set():
                    now = dt.datetime.now(dt.timezone.utc)
                    await feeder.send(feed.next_batch(now))
                    await recipients.deliver_new(now)
                    elapsed = time.monotonic() - started
                    if live is not None:
                        live.update(_progress_table(elapsed, feeder, runtime, recipients))
                    if duration is not None and elapsed >= duration:
                        break
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=1.0)
                await _drain(runtime, feeder)
                await recipients.deliver_new(dt.datetime.now(dt.timezone.utc))
        finally:
            await feeder.stop()
            await recipients.close()
        summary = runtime.summary()
        outreach = await asyncio.to_thread(outreach_summary, runtime.engine, settings.reputation)
    worker = summary["worker"]
    return {
        "events": worker.get("events", 0),
        "events_sent": dict(feeder.sent),
        "signals": worker.get("signals", {}),
        "deadletter": worker.get("deadletter", 0),
        "deadletter_stages": worker.get("deadletter_stages", {}),
        "quarantined": worker.get("quarantined", 0),
        "health": worker.get("health", {}),
        "signals_stored": sum(summary["projected"].get("signals", {}).values()),
        "decisions": summary["outreach"]["decisions"].get("decisions", {}),
        "outbox": summary["outreach"]["enqueue"],
        **outreach,
        "reactions": dict(recipients.reactions),
        "webhooks": dict(recipients.webhooks),
        "customers": customers,
        "injected_rule": BAD_RULE_ID if inject_bad_rule else None,
        "duration_seconds": round(time.monotonic() - started, 1),
    }


def _demo_login(runtime: Runtime) -> str:
    """Create the console user ``demo`` (admin) on first use, so the console can be opened at once."""
    from retain.console.users import create_user

    assert runtime.engine is not None
    password = secrets.token_urlsafe(9)
    with session_scope(runtime.engine) as session:
        try:
            create_user(session=session, username="demo", role="admin", password=password,
                        now=dt.datetime.now(dt.timezone.utc))
        except ValueError:  # exists from an earlier demo in this data dir
            return (f"Console: {runtime.api_url}/console (user 'demo' from an earlier run; "
                    "`retain users create NAME --role admin` adds another)")
        session.commit()
    return f"Console: {runtime.api_url}/console  user [bold]demo[/]  password [bold]{password}[/]"


async def _drain(runtime: Runtime, feeder: Feeder, *, timeout: float = 15.0) -> None:
    """Give the worker, then outreach, a bounded moment to process what was already sent."""
    sent = feeder.sent["api"] + feeder.sent["direct"]

    async def worker_done() -> bool:
        worker = runtime.summary()["worker"]
        return worker.get("events", 0) + worker.get("deadletter", 0) >= sent

    async def decisions_done() -> bool:
        summary = runtime.summary()
        return summary["outreach"]["decisions"].get("signals", 0) >= sum(summary["worker"].get("signals", {}).values())

    async def outbox_done() -> bool:
        # Every published decision read by the outbox consumer, and no message due but unsent.
        outreach = runtime.summary()["outreach"]
        if outreach["enqueue"].get("received", 0) < outreach["decisions"].get("published", 0):
            return False
        return runtime.engine is None or await asyncio.to_thread(_due_messages, runtime.engine) == 0

    for done in (worker_done, decisions_done, outbox_done):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not await done():
            await asyncio.sleep(0.2)  # polling interval of a bounded wait


def _due_messages(engine: Engine) -> int:
    """Outbox rows that are due now and not yet sent, suppressed or failed."""
    now = dt.datetime.now(dt.timezone.utc)
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(OutboxRecord).where(
            OutboxRecord.state.in_((PENDING, DRAFTED, SENDING)), OutboxRecord.next_attempt_at <= now)) or 0
