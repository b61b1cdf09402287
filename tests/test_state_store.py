"""The run lock of one billing and UserSide (issue 11 item 8): two runs at once (two CLI
runs, the CLI beside the DAG) must not interleave; a retry or re-run of the same DAG run
re-enters its own lock; a stale lock is taken over."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from types import SimpleNamespace

import pytest

from usm_billing import state_store
from usm_billing.config import BillingConfig
from usm_billing.dag import dag_run_id
from usm_billing.exceptions import RunLockedError
from usm_billing.state_store import LockInfo, RunLock
from usm_billing.tasks import run
from usm_billing.tasks.context import RunContext, RunParams, local_run_id

US = "http://userside.test/api.php"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def config(tmp_path) -> BillingConfig:
    return BillingConfig(
        billing_id=3, billing_conn_id="b", userside_conn_id="u", state_path=str(tmp_path)
    )


def lock(config, holder: str, clock=None, *, userside: str = US, timeout: float = 600) -> RunLock:
    return RunLock(
        config, userside=userside, holder=holder, timeout_seconds=timeout, clock=clock or Clock()
    )


def test_second_run_is_refused_with_a_clear_message(config) -> None:
    lock(config, "dag:usm_billing_demo:scheduled__1").acquire()
    with pytest.raises(RunLockedError) as caught:
        lock(config, "cli:host:1:ab").acquire()
    text = str(caught.value)
    assert "billing 3 is being imported into UserSide http://userside.test/api.php" in text
    assert "dag:usm_billing_demo:scheduled__1" in text
    assert "before writing anything" in text
    assert "run_lock_timeout_seconds (600 s)" in text


def test_same_run_re_enters_its_lock(config) -> None:
    """A retry of ``start`` or a cleared DAG run carries the same run id."""
    clock = Clock()
    lock(config, "dag:d:manual__1", clock).acquire()
    clock.now += 300
    lock(config, "dag:d:manual__1", clock).acquire()
    assert lock(config, "x").current() == LockInfo("dag:d:manual__1", clock.now)


def test_stale_lock_is_taken_over_after_the_timeout(config) -> None:
    clock = Clock()
    lock(config, "dag:d:dead", clock).acquire()
    clock.now += 599
    with pytest.raises(RunLockedError):
        lock(config, "cli:other:1:x", clock).acquire()
    clock.now += 2
    lock(config, "cli:other:1:x", clock).acquire()
    assert lock(config, "x").current() == LockInfo("cli:other:1:x", clock.now)


def test_lock_of_a_dead_cli_process_of_this_host_is_stale(config) -> None:
    script = "import os; print(os.getpid())"
    child = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    )
    dead = f"cli:{socket.gethostname()}:{child.stdout.strip()}:aa"
    lock(config, dead).acquire()
    lock(config, "dag:d:1").acquire()  # taken over at once
    alive = local_run_id()  # this very process
    with pytest.raises(RunLockedError):
        lock(config, alive).acquire()


def test_lock_read_between_its_creation_and_its_content_is_no_stale_lock(config) -> None:
    """The creator writes right after creating: a reader in between sees an empty file
    (the race ``make chaos`` found: two CLI runs at once both imported)."""
    first = lock(config, "a")
    first.file.path.parent.mkdir(parents=True, exist_ok=True)
    first.file.path.write_bytes(b"")
    writer = threading.Timer(0.2, lambda: first.file.write(LockInfo("a", Clock()())))
    writer.start()
    with pytest.raises(RunLockedError, match=r"another run \(a, since"):
        lock(config, "b").acquire()
    writer.join()


def test_unreadable_lock_is_taken_over(config, monkeypatch) -> None:
    monkeypatch.setattr(state_store, "SETTLE_SECONDS", 0.1)
    first = lock(config, "a")
    first.acquire()
    first.file.path.write_text("not json")
    lock(config, "b").acquire()
    assert lock(config, "x").current().holder == "b"


def test_release_only_by_the_holder_and_one_lock_per_userside(config) -> None:
    mine = lock(config, "a")
    mine.acquire()
    lock(config, "b", userside="http://other.test/api.php").acquire()  # another UserSide
    assert not lock(config, "b").release()
    assert mine.release()
    assert mine.current() is None
    lock(config, "b").acquire()


def test_dag_run_id_is_the_same_for_every_try_of_one_dag_run() -> None:
    first = {"dag_run": SimpleNamespace(dag_id="usm_billing_demo", run_id="manual__1"), "ti": 1}
    retry = {"dag_run": SimpleNamespace(dag_id="usm_billing_demo", run_id="manual__1"), "ti": 2}
    other = {"dag_run": SimpleNamespace(dag_id="usm_billing_demo", run_id="manual__2")}
    assert dag_run_id(first) == dag_run_id(retry) == "dag:usm_billing_demo:manual__1"
    assert dag_run_id(other) != dag_run_id(first)
    assert local_run_id() != local_run_id()


class RecordingUserSide:
    identity = US

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            self.calls.append(name)
            if name == "get_system_information":
                return {"date": "2026-12-01 10:00:00"}
            return None

        return call


def ctx_of(config, run_id: str) -> RunContext:
    ctx = RunContext(config, RunParams(run_id=run_id))
    ctx.__dict__["userside"] = RecordingUserSide()
    return ctx


def test_locked_out_run_sends_nothing_and_leaves_the_lock(config) -> None:
    """``start`` refuses before its first request; ``finish`` (it always runs) sends no
    end-of-import calls for the other run and does not release its lock."""
    holder = ctx_of(config, "dag:d:1")
    run.run_lock(holder).acquire()
    second = ctx_of(config, "cli:h:1:x")
    with pytest.raises(RunLockedError):
        started = run.start(second)
    assert not run.finish(second, None)
    assert second.userside.calls == []
    assert run.run_lock(second).current().holder == "dag:d:1"
    started, load = object(), object()  # `start` and a load completed (their results)
    assert run.finish(holder, started, load)
    assert holder.userside.calls == ["system_operation", "set_stop_info"]
    assert run.run_lock(holder).current() is None


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("/srv/state/1/houses.json", "/srv/state/1/houses.json"),
        ("state/1/houses.json", "state/1/houses.json"),
        ("file:///srv/state/1/houses.json", "/srv/state/1/houses.json"),
        ("file://localhost/srv/my%20state/1/houses.json", "/srv/my state/1/houses.json"),
        ("s3://bucket/usm/1/houses.json", None),
        ("gs://bucket/usm/1/houses.json", None),
    ],
)
def test_local_state_is_plain_files_and_object_stores_go_through_airflow(url, local) -> None:
    """Issue 12 (CLI start-up): a local state folder needs no Airflow; an object store
    is Airflow's ``ObjectStoragePath`` (config §state_path)."""
    from pathlib import Path

    path = state_store.store_path(url)
    if local is None:
        from airflow.sdk import ObjectStoragePath

        assert isinstance(path, ObjectStoragePath)
        assert str(path) == url
    else:
        assert type(path) is type(Path(local))
        assert path == Path(local)
