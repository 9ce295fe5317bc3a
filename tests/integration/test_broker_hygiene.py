"""The embedded broker never outlives the process that started it, however that process ends.

A real parent process starts an ``EmbeddedBroker`` and is then killed with SIGKILL (no atexit,
no signal handler runs): the broker must die too. A broker left over by a parent from before
(recorded in the data dir's pid file) is stopped when the next broker starts on that data dir.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from infra.broker import PID_FILE, EmbeddedBroker, broker_binary, free_port
from tests.service_process import REPO, command_line, process_alive

pytestmark = pytest.mark.integration

PARENT = textwrap.dedent("""
    import sys, threading
    from infra.broker import EmbeddedBroker
    broker = EmbeddedBroker(sys.argv[1]).start()
    print(broker._proc.pid, flush=True)
    threading.Event().wait()  # until killed
""")


def _exited_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait(timeout=10)
    return done.pid


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)  # polling interval of a bounded wait
    return False


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_broker_dies_with_its_parent(tmp_path, signum):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)], stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    broker_pid = None
    try:
        assert parent.stdout is not None
        broker_pid = int(parent.stdout.readline())
        assert process_alive(broker_pid) and "tansu" in command_line(broker_pid)
        parent.send_signal(signum)
        parent.wait(timeout=20)
        assert _wait_dead(broker_pid, 10), f"broker {broker_pid} outlived its parent ({signum!r})"
    finally:
        parent.kill()
        parent.wait(timeout=10)
        if broker_pid is not None and process_alive(broker_pid):
            os.kill(broker_pid, signal.SIGKILL)


def test_a_broker_left_over_on_the_data_dir_is_stopped_at_the_next_start(tmp_path):
    port = free_port()
    orphan = subprocess.Popen([broker_binary(), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
                               "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
                               "--storage-engine", "memory://tansu/"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        dead_parent = _exited_pid()
        (tmp_path / PID_FILE).write_text(f"{orphan.pid} {dead_parent}\n")  # its recorded parent is gone
        with EmbeddedBroker(tmp_path) as broker:
            assert broker.running
            orphan.wait(timeout=10)  # reaped here: the test stands in for the init process
            assert (tmp_path / PID_FILE).read_text().split() == [str(broker._proc.pid), str(os.getpid())]
        assert not (tmp_path / PID_FILE).exists()
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait(timeout=10)


def test_the_live_broker_of_another_process_on_the_same_data_dir_is_left_alone(tmp_path):
    with EmbeddedBroker(tmp_path) as first, EmbeddedBroker(tmp_path) as second:
        assert first.running and second.running  # e.g. a demo next to a running service


def test_a_pid_file_naming_some_other_process_is_left_alone(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / PID_FILE).write_text(f"{other.pid} {_exited_pid()}\n")
        with EmbeddedBroker(tmp_path):
            pass
        assert other.poll() is None  # not a broker: never signalled
    finally:
        other.kill()
        other.wait(timeout=10)
