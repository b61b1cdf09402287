"""DAG integrity and policy: every config loads, each DAG follows the house rules, and a
broken config is an import error naming the file and the field while the others load."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from scripts.airflow_env import REPO
from usm_billing.dag import PARAM_NAMES, dag_params, run_params
from usm_billing.exceptions import ConfigError
from usm_billing.tasks.context import RunParams


def test_repository_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}, "fix the config or DAG file named in the error"
    placeholders = [d.description for d in dagbag.dags.values() if "config_error" in d.tags]
    assert placeholders == [], "a config or DAG build error (see the description)"
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
    # the view checks the house cache (houses UserSide no longer has are asked again)
    assert upstream["diff_addresses"] == {"start", "extract_billing", "extract_userside"}
    # the gate counts the customers UserSide's row_limit (from start) leaves out
    assert upstream["verify_extracts"] == {"start", "extract_billing", "extract_userside"}
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


def test_broken_config_is_a_failing_placeholder_and_others_still_load(
    tmp_path, monkeypatch, airflow_db
):
    """Issue 13 §1 (DagBag view; tests/integration/test_dag_processor.py runs the real
    dag-processor): the generator file imports cleanly, the broken file's DAG id is a
    placeholder failing with the file and the field, the import error is on the separate
    error file."""
    from airflow.dag_processing.dagbag import DagBag

    (tmp_path / "good.yaml").write_text(
        "billing_id: 1\nbilling_conn_id: b\nuserside_conn_id: u\n", encoding="utf-8"
    )
    (tmp_path / "broken.yaml").write_text(
        "billing_id: 2\nbilling_conn_id: b\nuserside_conn_id: u\nskip_update_agreemnt_date: 1\n",
        encoding="utf-8",
    )
    (tmp_path / "main copy.yaml").write_text("billing_id: 3\n", encoding="utf-8")
    monkeypatch.setenv("USM_BILLING_CONFIG_DIR", str(tmp_path))
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert set(bag.dag_ids) >= {
        "usm_billing_good",
        "usm_billing_good_check",
        "usm_billing_broken",
        "usm_billing_main_copy",  # a file name that is no DAG id does not fail the file
    }
    [(path, error)] = bag.import_errors.items()
    assert path.endswith("usm_billing_config_errors.py")
    assert "broken.yaml" in error
    assert "skip_update_agreemnt_date" in error
    assert "main copy.yaml: the file name names the DAG" in error
    placeholder = bag.dags["usm_billing_broken"]
    assert placeholder.task_ids == ["config_error"]
    assert "config_error" in placeholder.tags
    assert "skip_update_agreemnt_date" in (placeholder.doc_md or "")
    with pytest.raises(ConfigError, match=r"broken\.yaml: field `skip_update_agreemnt_date`"):
        placeholder.get_task("config_error").python_callable()
    run = placeholder.test()
    assert run.state == "failed"
    [ti] = run.get_task_instances()
    assert ti.state == "failed"


RUN_ID = "dag:usm_billing_demo:manual__1"  # the run lock's holder: one id per DAG run


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        pytest.param({}, RunParams(run_id=RUN_ID), id="empty-form"),
        pytest.param(
            {"customer_id": None, "dry_run": False},
            RunParams(run_id=RUN_ID),
            id="form-defaults",
        ),
        pytest.param({"customer_id": ""}, RunParams(run_id=RUN_ID), id="empty-customer-id"),
        pytest.param(
            {"customer_id": "42", "dry_run": True},
            RunParams(customer_id="42", dry_run=True, run_id=RUN_ID),
            id="one-customer-dry-run",
        ),
    ],
)
def test_run_params_from_the_form(conf, expected):
    """Issue 13 §2 (the REST API run: tests/integration/test_real_airflow_config.py)."""
    params = {**{name: p.value for name, p in dag_params().items()}, **conf}
    dag_run = SimpleNamespace(conf=conf, dag_id="usm_billing_demo", run_id="manual__1")
    assert run_params({"dag_run": dag_run, "params": params}) == expected


@pytest.mark.parametrize("conf", [{"dryrun": True}, {"dry_run": True, "customerid": "1"}])
def test_a_conf_key_that_is_no_param_is_refused(conf):
    [unknown] = set(conf) - PARAM_NAMES
    with pytest.raises(ConfigError, match=rf"unknown run conf key\(s\) `{unknown}`"):
        run_params({"dag_run": SimpleNamespace(conf=conf), "params": conf})


def test_every_param_is_optional():
    for name, param in dag_params().items():
        assert param.value is not None or "null" in param.schema["type"], name
        param.resolve()  # validates its default against its schema


def test_a_dag_that_cannot_be_built_is_a_placeholder(tmp_path, monkeypatch, airflow_db):
    """Whatever fails while one billing's DAG is built, the file still imports."""
    from airflow.dag_processing.dagbag import DagBag

    import usm_billing.dag

    real = usm_billing.dag.build_dag

    def build(config, name):
        if name == "bad":
            msg = "boom"
            raise RuntimeError(msg)
        return real(config, name)

    for name, number in (("good", 1), ("bad", 2)):
        (tmp_path / f"{name}.yaml").write_text(
            f"billing_id: {number}\nbilling_conn_id: b\nuserside_conn_id: u\n", encoding="utf-8"
        )
    monkeypatch.setenv("USM_BILLING_CONFIG_DIR", str(tmp_path))
    monkeypatch.setattr(usm_billing.dag, "build_dag", build)
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    assert "usm_billing_good" in bag.dag_ids
    assert bag.dags["usm_billing_bad"].task_ids == ["config_error"]
    assert (
        "bad.yaml: its DAG cannot be built (RuntimeError: boom)"
        in bag.dags["usm_billing_bad"].doc_md
    )
