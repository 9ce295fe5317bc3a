"""Run the stream worker: in-process (same event loop as the caller) or as a child process.

``build_worker(settings, broker_url=...)`` returns the Faust app with the signals agents
registered. ``InProcessWorker`` starts it inside the caller's running loop (the demo runs broker,
worker, API and scheduler in one process); ``WorkerProcess`` runs ``python -m retain.worker`` as
a child (scale-out, failover tests) and stops it with SIGTERM, the way an orchestrator would.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import faust

from infra.database import make_engine
from infra.health import Health
from infra.logs import redact_handlers
from infra.private_files import open_private, private_dir
from infra.settings import DetectorSettings, Settings
from infra.stream_app import create_app
from outreach.conversations.escalations import escalations_on
from signals.agents import SignalAgents, register_signal_agents
from triggers.agents import register_decision_agents

log = logging.getLogger(__name__)

DEFAULT_FOLD = "signals.customer_fold:default_fold"


def load_fold(spec: str, settings: Settings) -> Any:
    """Build the fold named by ``module:factory`` (the factory takes the detector settings)."""
    module_name, _, attr = spec.partition(":")
    factory: Callable[[DetectorSettings], Any] = getattr(importlib.import_module(module_name), attr)
    return factory(settings.detectors)


@dataclass
class Worker:
    """A Faust app with the signals agents on it (not started)."""

    app: faust.App
    agents: SignalAgents
    health: Health

    def counters(self) -> dict[str, Any]:
        """Events, signals by kind, deadletter, ticks since start, the owned partitions and health."""
        now = self.health.clock()
        return {**self.agents.counters.as_dict(), "partitions": list(self.agents.active_partitions),
                "health": {"ready": self.health.ready(now), "problems": self.health.problems(now),
                           "parts": self.health.snapshot(now)}}


def build_worker(
    settings: Settings,
    *,
    broker_url: str,
    fold: Any = None,
    fold_spec: str = DEFAULT_FOLD,
    decisions: bool = True,
    health: Health | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    **app_overrides: Any,
) -> Worker:
    """The Faust app with the signals agents (and, with ``decisions``, the trigger stage) registered.

    ``health`` is the registry its parts report to (a new one if not given: the runtime hands the
    same one to the API as ``app.state.health``); ``clock`` is the wall clock (tests set it).
    """
    app = create_app(settings, broker_url=broker_url, **app_overrides)
    health = health if health is not None else Health()
    agents = register_signal_agents(
        app, fold if fold is not None else load_fold(fold_spec, settings),
        tick_interval=settings.stream_tick_interval_seconds, health=health,
        max_future=dt.timedelta(seconds=settings.max_future_skew_seconds),
        idle_after=dt.timedelta(seconds=settings.stream_idle_seconds),
        **({"clock": clock} if clock is not None else {}),
    )
    if decisions:
        # signals -> decisions; the stage reports into the process's Health (the runtime's one), and the
        # conversation store tells the policy whose reply stopped outreach
        app.retain_decision_agents = register_decision_agents(app, settings.decisions, engine=make_engine(settings),
                                                              health=health, escalations=escalations_on)
    return Worker(app=app, agents=agents, health=health)


class InProcessWorker:
    """Runs a ``Worker`` inside the current event loop: ``async with InProcessWorker(w): ...``."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    async def start(self) -> None:
        """Start the app (consumer joins the group, tables recover, agents and timers run)."""
        self.worker.app.finalize()
        await self.worker.app.start()

    async def stop(self) -> None:
        """Graceful stop: commit offsets, flush the producer, leave the consumer group."""
        await self.worker.app.stop()

    async def __aenter__(self) -> "InProcessWorker":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()


class WorkerProcess:
    """``python -m retain.worker`` as a child process in its own process group."""

    def __init__(
        self,
        *,
        broker_url: str,
        data_dir: Path,
        name: str = "worker",
        fold_spec: str = DEFAULT_FOLD,
        signals_only: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.broker_url = broker_url
        self.signals_only = signals_only
        self.data_dir = Path(data_dir)
        self.name = name
        self.fold_spec = fold_spec
        self.env = env or {}
        self.log_path = self.data_dir / f"{name}.log"
        self.stats_path = self.data_dir / f"{name}.stats.json"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "WorkerProcess":
        """Spawn the worker (returns at once; see ``wait_for_stats`` for readiness)."""
        private_dir(self.data_dir)
        cmd = [sys.executable, "-m", "retain.worker", "--broker", self.broker_url,
               "--fold", self.fold_spec, "--stats-file", str(self.stats_path)]
        if self.signals_only:
            cmd.append("--signals-only")
        env = {**os.environ, **self.env}
        with open_private(self.log_path, "ab") as log_file:
            self._proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        return self

    @property
    def pid(self) -> int | None:
        """The child's pid while started."""
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        """True while the child is alive."""
        return self._proc is not None and self._proc.poll() is None

    def stats(self) -> dict[str, Any] | None:
        """The counters the child last wrote (None before its first write)."""
        try:
            return json.loads(self.stats_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def terminate(self, *, timeout: float = 30.0) -> int | None:
        """SIGTERM (graceful: commit, leave group), then SIGKILL after ``timeout``; returns the exit code."""
        return self._signal_and_wait(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """SIGKILL: a crash, no goodbye to the group."""
        return self._signal_and_wait(signal.SIGKILL, 10.0)

    def _signal_and_wait(self, signum: int, timeout: float) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signum)
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10.0)
            except ProcessLookupError:
                pass
        return proc.returncode

    def __enter__(self) -> "WorkerProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.terminate()


def _write_stats(path: Path, worker: Worker) -> None:
    tmp = path.with_suffix(".tmp")
    with open_private(tmp, "w") as handle:
        handle.write(json.dumps({**worker.counters(), "pid": os.getpid(), "at": time.time()}))
    tmp.replace(path)  # atomic: readers never see half a file


class RedactingWorker(faust.Worker):
    """faust's worker; the log handlers it sets up redact like every other entry point's (``infra.logs``)."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        """faust's setup, then redaction on each root handler and the HTTP client loggers held at WARNING."""
        super().on_setup_root_logger(logger, level)
        redact_handlers(logger)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m retain.worker``: run one worker until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description="Run one retain stream worker.")
    parser.add_argument("--broker", required=True, help="kafka://host:port")
    parser.add_argument("--fold", default=DEFAULT_FOLD, help="module:factory building the fold")
    parser.add_argument("--stats-file", type=Path, default=None)
    parser.add_argument("--loglevel", default="info")
    parser.add_argument("--signals-only", action="store_true", help="run the signals stage without the trigger stage")
    args = parser.parse_args(argv)

    settings = Settings()
    if not args.signals_only:
        # The trigger stage stores decisions: the schema must exist (idempotent; a concurrent
        # worker migrating the same database makes this one fail, which is harmless).
        from retain.migrations import migrate

        engine = make_engine(settings)
        try:
            migrate(engine)
        except Exception:  # noqa: BLE001 - see above
            logging.getLogger(__name__).exception("database migration at worker start failed")
        finally:
            engine.dispose()
    worker = build_worker(settings, broker_url=args.broker, fold_spec=args.fold, decisions=not args.signals_only)
    if args.stats_file is not None:
        stats_file: Path = args.stats_file

        @worker.app.timer(0.5, name="retain.worker.stats")
        async def write_stats() -> None:
            _write_stats(stats_file, worker)

        @worker.app.on_before_shutdown.connect  # type: ignore[misc]
        async def final_stats(app: Any, **kwargs: Any) -> None:
            _write_stats(stats_file, worker)

    # faust.Worker owns the loop and turns SIGTERM/SIGINT into a graceful shutdown.
    RedactingWorker(worker.app, loglevel=args.loglevel, redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main()
