"""The processes a chaos run kills: ``retain up`` alone (single-box), or a broker, ``retain up`` and a worker.

Both deployments offer the same handles to ``tests/chaos/test_chaos.py``: ``service`` (the
current ``retain up``), ``kill_service`` and ``kill_worker`` (SIGKILL, then the same process is
started again on the same data), ``outage_seen`` (how a database outage shows from outside) and
``close``, which stops every process it started, also after a failed run.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Callable

import httpx

from infra.broker import EmbeddedBroker, ensure_topics
from infra.stream_app import TOPIC_NAMES
from retain.worker import WorkerProcess
from tests.service_process import REPO, RetainService
from tests.waiting import wait_until

# Short group timeouts: a killed member is evicted after 6 s instead of 10 (both work, this is quicker).
FAST_GROUP = {"RETAIN_STREAM_SESSION_TIMEOUT_SECONDS": "6", "RETAIN_STREAM_REBALANCE_TIMEOUT_SECONDS": "6"}


class SingleBox:
    """``retain up`` with its embedded broker: a kill takes the broker (memory only) with it."""

    mode = "single-box"

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.data, self.env = tmp_path / "data", env
        self.service = RetainService(self.data, env=env)
        self.service_kills: list[int] = []
        self.worker_kills: list[int] = []

    def start(self) -> None:
        self.service.start()
        self.service.wait_http("/healthz", timeout=90)

    def kill_service(self, stage: int) -> None:
        self.service.kill()
        self.service_kills.append(stage)
        self.service.__exit__()  # reaps a broker the kill left behind, if any
        self.service = RetainService(self.data, env=self.env, port=self.service.port).start()
        self.service.wait_http("/healthz", timeout=90)

    def kill_worker(self, stage: int) -> None:
        raise AssertionError("single-box mode has no worker process of its own")

    def outage_seen(self, ingest_failed: Callable[[], bool]) -> bool:
        """Ingest writes the journal: the outage shows as a refused or failed batch."""
        return ingest_failed()

    def figures(self) -> dict[str, Any]:
        return {"kill -9 of retain up after batches": self.service_kills}

    def close(self) -> None:
        self.service.__exit__()


class KafkaCluster(SingleBox):
    """A broker process the test owns (it outlives every kill, like an external Kafka), ``retain up``
    with ``KAFKA_URL`` on it, and one ``python -m retain.worker`` in the same consumer group.

    The broker is Tansu with memory storage: it keeps its log as long as its own process runs, which
    is the whole test. Kafka is the durable record here: no ingest journal, no checkpoints.
    """

    mode = "kafka"

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.broker = EmbeddedBroker(tmp_path / "broker")  # started from the test's thread: dies with pytest
        super().__init__(tmp_path, {**env, **FAST_GROUP, "KAFKA_URL": self.broker.url})
        self.worker_dir = tmp_path / "workers"
        self.worker: WorkerProcess | None = None
        self.worker_partitions: list[list[int]] = []  # what the worker owned when it was killed

    def start(self) -> None:
        self.broker.start()
        partitions = int(self.env["RETAIN_TOPIC_PARTITIONS"])
        asyncio.run(ensure_topics(self.broker.bootstrap, {name: partitions for name in TOPIC_NAMES}))
        super().start()
        self.worker = self._worker().start()
        self._wait_for_share()

    def _wait_for_share(self) -> None:
        """Until the worker owns some partitions and ``retain up`` the rest: a kill of either moves partitions."""
        partitions = int(self.env["RETAIN_TOPIC_PARTITIONS"])
        wait_until(lambda: 0 < len(self._owned()) < partitions, 90,
                   lambda: f"the worker to own a share of {partitions} partitions (has {self._owned()})",
                   context=self._worker_log)

    def _worker(self) -> WorkerProcess:
        # The worker's decision stage writes to the service's database: same data dir (SQLite) or URL.
        env = {**self.env, "PYTHONPATH": str(REPO), "RETAIN_DATA_DIR": str(self.data)}
        return WorkerProcess(broker_url=self.broker.url, data_dir=self.worker_dir, name="worker", env=env)

    def _owned(self) -> list[int]:
        stats = self.worker.stats() if self.worker else None
        return list((stats or {}).get("partitions") or [])

    def _worker_log(self) -> str:
        try:
            return (self.worker_dir / "worker.log").read_text(errors="replace")[-3000:]
        except FileNotFoundError:
            return ""

    def kill_worker(self, stage: int) -> None:
        assert self.worker is not None
        self._wait_for_share()  # a worker still joining the group would hold nothing to lose
        self.worker_partitions.append(self._owned())
        self.worker.kill()
        self.worker_kills.append(stage)
        self.worker.stats_path.unlink(missing_ok=True)  # the next life's partitions, not this one's
        self.worker = self._worker().start()

    def outage_seen(self, ingest_failed: Callable[[], bool]) -> bool:
        """Ingest needs only Kafka; the outage shows in readiness: a part waiting for the database."""
        try:
            checks = httpx.get(self.service.url + "/readyz", timeout=5).json().get("checks", {})
        except (httpx.HTTPError, json.JSONDecodeError):
            return False
        return checks.get("database", "ok") != "ok" or any(
            "OperationalError" in value or "waiting for the database" in value for value in checks.values())

    def figures(self) -> dict[str, Any]:
        return {**super().figures(), "kill -9 of the worker after batches": self.worker_kills,
                "worker's partitions at its kills": self.worker_partitions}

    def close(self) -> None:
        try:
            if self.worker is not None:
                self.worker.kill()
        finally:
            try:
                super().close()
            finally:
                self.broker.stop()
