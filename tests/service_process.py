"""``retain up`` as a real child process for restart tests: start, kill -9, SIGTERM, look inside.

The service runs on a data dir the test owns (SQLite file, webhook keys, broker log), on a free
port, with the repository's code first on ``PYTHONPATH``. ``broker_pids`` finds the Tansu child
by its command line, so a test can check it does not outlive the service.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from infra.broker import free_port

REPO = Path(__file__).resolve().parents[1]


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children_of(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def command_line(pid: int) -> str:
    """The command line of ``pid`` ('' once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class RetainService:
    """One ``python -m retain up`` child on ``data_dir``; every wait is bounded."""

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-service.log"

    @property
    def url(self) -> str:
        """The API's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "RetainService":
        """Spawn the service (returns at once)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(REPO), "RETAIN_DATA_DIR": str(self.data_dir),
               "RETAIN_PUBLIC_BASE_URL": self.url, "RETAIN_MODEL_BOOTSTRAP": "false", **self.env}
        with open(self.log_path, "ab") as log:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen([sys.executable, "-m", "retain", "up", "--port", str(self.port)],
                                         cwd=self.data_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        return self

    @property
    def pid(self) -> int:
        """The service's pid."""
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        """What the service printed so far (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def broker_pids(self) -> list[int]:
        """The Tansu broker processes the service started."""
        return [pid for pid in children_of(self.pid) if "tansu" in command_line(pid)]

    def wait_http(self, path: str, *, timeout: float, ok=lambda r: r.status_code < 500) -> httpx.Response:
        """Poll GET ``path`` until ``ok(response)``; fail with the service log after ``timeout``."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"service exited with {self.proc.returncode}:\n{self.log()}")
            try:
                response = httpx.get(self.url + path, timeout=2.0)
                if ok(response):
                    return response
                last = response.status_code
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.05)  # polling interval of a bounded wait
        raise AssertionError(f"{path} not answering after {timeout}s ({last!r}):\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: the service dies with no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 60.0) -> int | None:
        """SIGTERM and wait (the way `retain up` is stopped by an orchestrator)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def __enter__(self) -> "RetainService":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        brokers = self.broker_pids() if self.proc is not None and self.proc.poll() is None else []
        self.terminate()
        for pid in brokers:  # never leave a broker behind, whatever the test did
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)
