"""The optional manual-only check DAG (:mod:`usm_billing.check_dag`), wired the way the
module docstring says and parsed by a DagBag; its task body runs against the emulators
(``dag.test()`` needs the DAG in the configured dags folder, which this DAG is not yet)."""

from __future__ import annotations

import json

import pytest

from tests.integration.billings import billing_set
from tests.integration.harness import emulator_stack

DAG_FILE = """
# Airflow DAG file (safe mode looks for both words): a manual check DAG per billing.
from usm_billing.check_dag import build_check_dag
from usm_billing.config import default_config_dir, load_configs

configs, _errors = load_configs(default_config_dir())
for name, config in configs.items():
    globals()[f"usm_billing_{name}_check"] = build_check_dag(config, name)
"""


@pytest.fixture
def check_dag(tmp_path, monkeypatch, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    chosen = billing_set("mikbill")
    folder = chosen.assemble(tmp_path / "mikbill", None)
    with emulator_stack(tmp_path, monkeypatch, folder, billing_base_path=chosen.base_path) as stack:
        monkeypatch.setenv("USM_BILLING_CONFIG_DIR", str(stack.config_path.parent))
        dags = tmp_path / "dags"
        dags.mkdir()
        (dags / "usm_billing_check_dags.py").write_text(DAG_FILE, encoding="utf-8")
        bag = DagBag(dag_folder=str(dags))
        assert bag.import_errors == {}
        yield bag.get_dag("usm_billing_test_check"), stack


def test_manual_only_one_task_no_retries(check_dag):
    dag, _stack = check_dag
    assert dag.timetable.__class__.__name__ == "NullTimetable"  # manual only
    assert [t.task_id for t in dag.tasks] == ["check"]
    assert dag.get_task("check").retries == 0
    assert dag.get_task("check").show_return_value_in_logs is False  # issue 13.5
    assert "usm_billing" in dag.tags


def test_check_dag_reports_and_writes_nothing(check_dag, capsys):
    dag, stack = check_dag
    summary = dag.get_task("check").python_callable()
    assert "verdict: COMPATIBLE" in capsys.readouterr().out  # the report, in the task log
    assert summary["verdict"].startswith("COMPATIBLE")
    assert summary["counts"]["customers"] == 4
    assert summary["missing"] == ["get_user_tags", "get_services_list"]
    assert stack.userside_stats()["writes"] == 0


def test_check_dag_fails_on_a_refused_key(check_dag, monkeypatch):
    dag, stack = check_dag
    monkeypatch.setenv(
        "AIRFLOW_CONN_USM_BILLING_TEST",
        json.dumps(
            {"conn_type": "http", "host": stack.billing_url + "/", "password": "not-the-key"}
        ),
    )
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="refused the API key"):
        dag.get_task("check").python_callable()
