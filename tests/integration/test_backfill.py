"""Billing messages and Airflow backfills (issue 4 "Done when"): a backfill over two past
hours imports exactly the messages of that window, once; a second backfill of the same
window imports nothing; a scheduled run then imports what is left, never a message twice
(universal-api.md §3.14, contract §5.5, §8 N1).

The backfills are real: ``_create_backfill`` is what ``airflow backfill create`` and the UI
call, and it creates the DAG runs (``run_type`` ``backfill``, data intervals from the DAG's
``CronDataIntervalTimetable``). Only the scheduler's part, running each queued run, is done
by ``dag.test()`` on that very run, so the test needs no scheduler and no API server. The
billing's schedule is hourly here so that two hours are two runs; the code path is the same
as for the default ``*/10``.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest

from emulators.billing.generator import generate
from scripts.airflow_env import REPO
from tests.integration.harness import emulator_stack

HOUR = timedelta(hours=1)


def message_dates(start: datetime) -> dict[str, datetime]:
    """Billing message id → msg_date around the window [start, start + 2 h)."""
    return {
        "10": start - timedelta(minutes=5),  # before the window
        "11": start,  # the first second of the window
        "12": start + timedelta(minutes=59, seconds=59),
        "13": start + HOUR + timedelta(minutes=30),
        "14": start + 2 * HOUR - timedelta(seconds=1),  # the last second of the window
        "15": start + 2 * HOUR,  # the end is exclusive
        "16": start + 3 * HOUR,
    }


@pytest.fixture
def backfill_dag(tmp_path, monkeypatch, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    now = datetime.now(UTC)
    start = now.replace(minute=0, second=0, microsecond=0) - 5 * HOUR
    dataset = dict(generate(20, seed=5))
    users = list(dataset["get_user_list"])
    dataset["get_user_messages"] = {
        msg_id: {
            "id": msg_id,
            "user_id": users[int(msg_id) % len(users)],
            "msg_date": date.strftime("%Y-%m-%d %H:%M:%S"),
            "subject": f"Тікет {msg_id}",
            "text": "Немає зв'язку",
        }
        for msg_id, date in message_dates(start).items()
    }
    with emulator_stack(
        tmp_path,
        monkeypatch,
        dataset,
        name="backfill",
        schedule="0 * * * *",
        import_message=True,
        state_path=str(tmp_path / "state"),
    ) as stack:
        monkeypatch.setenv("USM_BILLING_CONFIG_DIR", str(stack.config_path.parent))
        bag = DagBag(dag_folder=str(REPO / "dags"))
        assert bag.import_errors == {}
        yield bag.get_dag("usm_billing_backfill"), stack, start


def register(dag) -> None:
    """Serialize the DAG into the metadata DB, as the DAG processor does (and ``dag.test``
    does before a run); a backfill needs it. Runs and backfills left in the shared test
    database by an earlier session are removed first."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.models.backfill import Backfill, BackfillDagRun
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select

    with create_session() as session:
        ids = select(Backfill.id).where(Backfill.dag_id == dag.dag_id)
        session.execute(delete(BackfillDagRun).where(BackfillDagRun.backfill_id.in_(ids)))
        session.execute(delete(DagRun).where(DagRun.dag_id == dag.dag_id))
        session.execute(delete(Backfill).where(Backfill.dag_id == dag.dag_id))

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        assert dag.dag_id in bag.dag_ids
        sync_bag_to_db(bag, bundle.name, bundle.version)


@contextmanager
def run_as(dag_run_id: int):
    """Make ``dag.test()`` execute the existing (backfill) DAG run instead of creating a
    manual one: what the scheduler does with a queued run."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.state import DagRunState

    def existing(*, dag, session, **_kwargs):
        run = session.get(DagRun, dag_run_id)
        run.dag = dag
        run.state = DagRunState.RUNNING
        session.commit()
        return run

    with patch("airflow.models.dagrun.get_or_create_dagrun", existing):
        yield


def backfill(dag, start: datetime, end: datetime, *, reprocess: str) -> list[dict[str, Any]]:
    """``airflow backfill create --from-date start --to-date end`` (the runs whose logical
    date is in [start, end]), then each run executed; returns the messages task results."""
    from airflow.models.backfill import Backfill, ReprocessBehavior, _create_backfill
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    created = _create_backfill(
        dag_id=dag.dag_id,
        from_date=start,
        to_date=end,
        max_active_runs=1,
        reverse=False,
        dag_run_conf=None,
        triggering_user_name="test",
        reprocess_behavior=ReprocessBehavior(reprocess),
    )
    with create_session() as session:
        runs = session.scalars(
            select(DagRun).where(DagRun.backfill_id == created.id).order_by(DagRun.logical_date)
        ).all()
        plan = [(r.id, r.logical_date, r.run_type, r.data_interval_start) for r in runs]
    results = []
    for run_id, logical_date, run_type, interval_start in plan:
        assert str(run_type) in ("backfill", "DagRunType.BACKFILL_JOB"), run_type
        assert interval_start == logical_date
        with run_as(run_id):
            run = dag.test(logical_date=logical_date)
        states = {ti.task_id: ti.state for ti in run.get_task_instances()}
        assert set(states.values()) == {"success"}, states
        [load] = [ti for ti in run.get_task_instances() if ti.task_id == "load_messages"]
        results.append(load.xcom_pull(task_ids="load_messages"))
    with create_session() as session:  # the scheduler closes a backfill whose runs ended
        session.get(Backfill, created.id).completed_at = datetime.now(UTC)
    return results


def sent_messages(stack) -> list[str]:
    return sorted(m["billing_msg_id"] for m in stack.userside.state.data["messages"].values())


def test_backfill_imports_its_window_once_and_a_second_backfill_nothing(backfill_dag):
    dag, stack, start = backfill_dag
    register(dag)

    first = backfill(dag, start, start + HOUR, reprocess="none")

    assert [r["counts"]["interval"] for r in first] == [
        [int(start.timestamp()), int((start + HOUR).timestamp())],
        [int((start + HOUR).timestamp()), int((start + 2 * HOUR).timestamp())],
    ]
    assert [r["detail"]["sent"] for r in first] == [2, 2]
    assert sent_messages(stack) == ["11", "12", "13", "14"]  # exactly the window, each once
    writes = stack.userside_stats()["writes"]

    second = backfill(dag, start, start + HOUR, reprocess="completed")

    assert [r["detail"]["sent"] for r in second] == [0, 0]
    assert [r["counts"]["already_sent"] for r in second] == [4, 4]
    assert stack.userside_stats()["writes"] == writes  # nothing at all was written
    assert sent_messages(stack) == ["11", "12", "13", "14"]

    # a scheduled/manual run imports everything not sent yet, and only that
    [load] = [ti for ti in dag.test().get_task_instances() if ti.task_id == "load_messages"]
    assert load.xcom_pull(task_ids="load_messages")["detail"]["sent"] == 3
    assert sent_messages(stack) == ["10", "11", "12", "13", "14", "15", "16"]
