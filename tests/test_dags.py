"""DAG integrity and policy: every config loads, each DAG follows the house rules, and a
broken config is an import error naming the file and the field while the others load."""

from __future__ import annotations

import pytest

from scripts.airflow_env import REPO


def test_repository_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}, "fix the config or DAG file named in the error"
    assert "usm_billing_demo" in dagbag.dag_ids
    assert "usm_billing_demo_check" in dagbag.dag_ids


@pytest.fixture
def repo_dags(dagbag):
    """The sync DAGs (the manual ``…_check`` DAGs have their own rules)."""
    return [
        dag
        for dag_id, dag in dagbag.dags.items()
        if dag_id.startswith("usm_billing_") and not dag_id.endswith("_check")
    ]


def test_check_dags_are_manual_only(dagbag):
    checks = [dag for dag_id, dag in dagbag.dags.items() if dag_id.endswith("_check")]
    assert checks
    for dag in checks:
        assert type(dag.timetable).__name__ == "NullTimetable", f"{dag.dag_id}: manual only"
        assert dag.max_active_runs == 1


def test_policy_one_run_at_a_time_retries_and_tags(repo_dags):
    assert repo_dags, "no usm_billing DAG was generated"
    for dag in repo_dags:
        assert dag.max_active_runs == 1, (
            f"{dag.dag_id}: set max_active_runs=1 (no overlapping runs)"
        )
        assert not dag.catchup, f"{dag.dag_id}: catchup must be off"
        assert "usm_billing" in dag.tags, f"{dag.dag_id}: tag it `usm_billing`"
        for task in dag.tasks:
            if task.task_id != "report":
                assert task.retries >= 2, f"{dag.dag_id}.{task.task_id}: needs retries >= 2"
        assert dag.get_task("finish").trigger_rule == "all_done", (
            f"{dag.dag_id}: finish must always run"
        )


def test_task_graph_matches_the_design(repo_dags):
    dag = repo_dags[0]
    upstream = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
    assert upstream["start"] == set()
    assert upstream["extract_billing"] == {"start"}
    assert upstream["extract_userside"] == {"start"}
    assert upstream["diff_tariffs"] == {"extract_billing", "extract_userside"}
    # addresses first, so customers get their UserSide house ids in the same run
    assert upstream["diff_addresses"] == {"start", "extract_billing"}
    assert upstream["verify_extracts"] == {"extract_billing", "extract_userside"}
    assert upstream["confirm_not_in_billing"] == {"verify_extracts"}
    assert upstream["load_addresses"] == {"diff_addresses", "confirm_not_in_billing"}
    # groups, tags, services first, so customers get their UserSide ids in the same run
    assert upstream["diff_catalogues"] == {"start"}
    assert upstream["load_catalogues"] == {"diff_catalogues", "confirm_not_in_billing"}
    assert upstream["diff_customers"] == {
        "start",
        "extract_billing",
        "extract_userside",
        "load_addresses",
        "load_catalogues",
    }
    # the load re-diffs what it must re-read (a failed batch, a multi-step change)
    assert upstream["load_customers"] == {
        "diff_customers",
        "start",
        "extract_billing",
        "extract_userside",
        "load_addresses",
        "load_catalogues",
        "load_tariffs",
        "confirm_not_in_billing",
    }
    # IPs and messages after customers: the customers created this run need their ids
    assert upstream["diff_ips"] == {"start", "extract_billing", "extract_userside"}
    assert upstream["load_ips"] == {
        "diff_ips",
        "start",
        "extract_billing",
        "load_customers",
        "confirm_not_in_billing",
    }
    assert upstream["diff_messages"] == {"extract_userside", "load_customers"}
    assert upstream["load_messages"] == {"diff_messages", "confirm_not_in_billing"}
    loads = {
        "load_tariffs",
        "load_catalogues",
        "load_addresses",
        "load_customers",
        "load_ips",
        "load_messages",
    }
    for load in loads:  # nothing is written before the plausibility gate
        assert "confirm_not_in_billing" in upstream[load], load
    assert upstream["finish"] == {"start"} | loads
    assert {"finish"} | loads <= upstream["report"]


def test_broken_config_is_an_import_error_and_others_still_load(tmp_path, monkeypatch, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    (tmp_path / "good.yaml").write_text(
        "billing_id: 1\nbilling_conn_id: b\nuserside_conn_id: u\n", encoding="utf-8"
    )
    (tmp_path / "broken.yaml").write_text(
        "billing_id: 2\nbilling_conn_id: b\nuserside_conn_id: u\nskip_update_agreemnt_date: 1\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("USM_BILLING_CONFIG_DIR", str(tmp_path))
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert "usm_billing_good" in bag.dag_ids
    assert "usm_billing_broken" not in bag.dag_ids
    [error] = bag.import_errors.values()
    assert "broken.yaml" in error
    assert "skip_update_agreemnt_date" in error
