"""Secrets never leak (issue 6, deliverable 6): a real, supervised Airflow task execution.

``dag.test()`` runs tasks in the test process and masks nothing, so it cannot show that a
key stays secret. Here four DAGs run through ``tests/integration/supervised.py``:
``dag.test(use_executor=True)`` with the LocalExecutor and an in-process Task Execution API
on 127.0.0.1, i.e. worker → supervisor → task process, the production path. It runs in a
subprocess with its own ``AIRFLOW_HOME`` (a copy of the migrated metadata DB, its own log
and XCom folders), so what it leaves behind can be read back.

Every billing connection carries the billing key twice: in its password and in the query
string of its host (``/?module=remoteapi&key=<KEY>&action=userside``, as the PHP module's
URL is often copied). The DAGs:

* ``secrets_ok``: both systems healthy, the sync runs through;
* ``secrets_http_error``: the billing answers HTTP 500 to ``get_user_list``, its body
  echoing the request, and UserSide refuses ``get_tariff_list`` with an echo (4xx);
* ``secrets_billing_down``: the billing URL points at a closed port (connection refused);
* ``secrets_userside_down``: the UserSide URL points at a closed port;
* ``secrets_echo_start``, ``secrets_echo_load`` (issue 11): a UserSide whose error
  replies echo the request, key included (a 200 ``Result: ERROR``, a 4xx ``ErrorText`` or
  ``error``), so that ``start``, ``load_customers`` (its refused records go to XCom) and
  ``finish`` fail on an echo, as both extracts of ``secrets_http_error`` do.

The ``check`` command and the CLI's ``sync`` run in this process against billings that
echo in the other shapes (uBilling's ``ERROR:`` text, a JSON ``error`` with ``key=``,
AXbills' broken error JSON) and an echoing UserSide; neither key may appear in their
stdout, stderr or log.

Neither key may appear in the task log files, the executor's output, XCom values (metadata
DB rows and object-storage files), rendered template fields, exception texts, or anywhere
in the metadata DB file. The keys are random per test session.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulators.billing.fixtures import Reply
from emulators.billing.generator import generate
from emulators.billing.handler import BillingEmulator
from emulators.billing.server import start_server as start_billing_server
from emulators.userside.faults import call_name
from emulators.userside.handler import UserSideEmulator
from emulators.userside.server import start_server as start_userside_server
from emulators.userside.server import stop_server as stop_userside_server
from emulators.userside.state import UserSideState
from scripts.airflow_env import REPO, airflow_env

BILLING_KEY = f"bk-{secrets.token_hex(16)}"
USERSIDE_KEY = f"uk-{secrets.token_hex(16)}"
# The billing's URL carries the key in its query string, as the PHP module's URL does.
BILLING_PATH = f"/?module=remoteapi&key={BILLING_KEY}&action=userside"
DAGS = (
    "secrets_ok",
    "secrets_http_error",
    "secrets_billing_down",
    "secrets_userside_down",
    "secrets_echo_start",
    "secrets_echo_load",
)
# The calls each echoing UserSide refuses with an echo of the request: (status, shape).
USERSIDE_ECHOES: dict[str, dict[str, tuple[int, str]]] = {
    "secrets_http_error": {"module.get_tariff_list": (400, "ErrorText")},
    "secrets_echo_start": {"usm_billing.set_start_info": (200, "Result")},
    "secrets_echo_load": {
        "customer.group_add": (400, "ErrorText"),
        "usm_billing.set_stop_info": (403, "error"),
    },
}
# The billing methods each echoing billing refuses: (status, shape).
BILLING_ECHOES: dict[str, dict[str, tuple[int, str]]] = {
    "secrets_http_error": {"get_user_list": (500, "text")},
}


def _echo(params: dict[str, str]) -> str:
    """What an echoing server quotes: the request as sent (form-encoded) and the key as read."""
    shown = {k: v for k, v in params.items() if k in ("key", "cat", "action", "request")}
    return f"refused {urllib.parse.urlencode(shown)} (key {params.get('key', '')})"


class EchoingBilling(BillingEmulator):
    """A billing whose errors quote the request: ``echo`` maps a method to (status,
    shape), the shape being ``text`` (uBilling's ``ERROR:``), ``json`` (``{"error": …}``)
    or ``axbills`` (``{  { "ERROR" : … } }``, not JSON)."""

    def __init__(self, *args: Any, echo: dict[str, tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.echo = echo

    def respond(self, method: str, path: str, query: Any) -> Reply:
        params = {str(k): str(v) for k, v in query.items()}
        if params.get("request") not in self.echo:
            return super().respond(method, path, query)
        status, shape = self.echo[params["request"]]
        text = _echo(params)
        body = {
            "text": f"ERROR: {text}",
            "json": json.dumps({"error": text}),
            "axbills": "{  { " + f'"ERROR" : {json.dumps(text)}' + " } }",
        }[shape]
        return Reply.build(status, None, (("Content-Type", "text/html"),), body.encode())


class EchoingUserSide(UserSideEmulator):
    """A UserSide that refuses the calls of ``echo`` (``<cat>.<action>`` or
    ``module.<request>`` → (status, member)) with an error quoting the request."""

    def __init__(self, *args: Any, echo: dict[str, tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.echo = echo

    def handle(
        self, method: str, path: str, query: dict[str, str], body: bytes, content_type: str
    ) -> tuple[int, dict[str, str], bytes]:
        params = {**query, **dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))}
        call = call_name(params)
        if call not in self.echo:
            return super().handle(method, path, query, body, content_type)
        status, member = self.echo[call]
        reply = {"result": "ERROR", "ErrorText": _echo(params)}
        if member == "error":
            reply = {"result": "ERROR", "error": _echo(params)}
        payload = json.dumps(reply).replace("/", "\\/").encode()
        return status, {"Content-Type": "application/json"}, payload


@dataclass
class Runs:
    home: Path
    results: dict[str, dict[str, Any]]
    output: str  # the executor's stdout and stderr: supervisor and task logs go there too

    @property
    def db(self) -> Path:
        return self.home / "airflow.db"

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as conn:
            marks = ",".join("?" * len(DAGS))
            dag_ids = [f"usm_billing_{d}" for d in DAGS]
            return conn.execute(sql.format(dags=marks), dag_ids).fetchall()

    def log_files(self, dag: str | None = None) -> list[Path]:
        pattern = f"dag_id=usm_billing_{dag}/**/*.log" if dag else "**/*.log"
        return sorted((self.home / "logs").glob(pattern))

    def task_log(self, dag: str, task_id: str) -> str:
        [path] = [p for p in self.log_files(dag) if f"task_id={task_id}" in str(p)]
        return path.read_text(encoding="utf-8")


def _key_forms() -> dict[str, set[str]]:
    """Each key as it could appear: verbatim and URL-encoded."""
    return {
        name: {key, urllib.parse.quote(key, safe=""), urllib.parse.quote_plus(key)}
        for name, key in (("billing key", BILLING_KEY), ("UserSide key", USERSIDE_KEY))
    }


def leaks(text: str | bytes) -> list[str]:
    """Names of the keys found in ``text``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return [name for name, forms in _key_forms().items() if any(f in text for f in forms)]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _copy_db(target: Path) -> None:
    """A consistent copy of the migrated metadata DB (other tests may be writing to it)."""
    source = sqlite3.connect(Path(os.environ["AIRFLOW_HOME"]) / "airflow.db")
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()


def _connection(host: str, key: str) -> str:
    return json.dumps({"conn_type": "http", "host": host, "password": key})


def _add_billing(
    folder: Path,
    env: dict[str, str],
    number: int,
    name: str,
    billing_host: str,
    userside_host: str,
    **extra: Any,
) -> None:
    """The two connections of billing ``name`` (in ``env``) and its YAML file."""
    env[f"AIRFLOW_CONN_{name.upper()}_BILLING"] = _connection(billing_host, BILLING_KEY)
    env[f"AIRFLOW_CONN_{name.upper()}_USERSIDE"] = _connection(userside_host, USERSIDE_KEY)
    config = {
        "billing_id": number,
        "billing_conn_id": f"{name}_billing",
        "userside_conn_id": f"{name}_userside",
        **extra,
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def _stop(servers: list[Any], us_servers: list[Any]) -> None:
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    for us_server, us_thread in us_servers:
        stop_userside_server(us_server, us_thread)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, airflow_db: None) -> Runs:
    home = tmp_path_factory.mktemp("airflow_home")
    _copy_db(home / "airflow.db")
    configs = home / "billings"
    configs.mkdir()
    dataset = generate(30, seed=11)
    healthy = BillingEmulator(dataset, key=BILLING_KEY)
    billings = {
        name: EchoingBilling(dataset, key=BILLING_KEY, echo=echo)
        for name, echo in BILLING_ECHOES.items()
    }
    userside = UserSideEmulator(UserSideState(), key=USERSIDE_KEY)
    usersides = {
        name: EchoingUserSide(UserSideState(), key=USERSIDE_KEY, echo=echo)
        for name, echo in USERSIDE_ECHOES.items()
    }
    servers = [start_billing_server(healthy)]
    servers += [start_billing_server(billing) for billing in billings.values()]
    us_servers = [start_userside_server(userside)]
    us_servers += [start_userside_server(us) for us in usersides.values()]
    try:
        ok_url, *echo_urls = (f"http://127.0.0.1:{s.server_address[1]}" for s, _ in servers)
        down_url = f"http://127.0.0.1:{_closed_port()}"
        us_url, *us_echo_urls = (f"http://127.0.0.1:{s.server_address[1]}" for s, _ in us_servers)
        env = {**os.environ, **airflow_env(home)}
        env.update(
            {
                "USM_BILLING_CONFIG_DIR": str(configs),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
                "AIRFLOW__CORE__PARALLELISM": "2",
                "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD": "1024",  # files too
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            }
        )
        billing_urls = {
            **dict(zip(billings, echo_urls, strict=True)),
            "secrets_billing_down": down_url,
        }
        userside_urls = {
            **dict(zip(usersides, us_echo_urls, strict=True)),
            "secrets_userside_down": down_url,
        }
        for number, name in enumerate(DAGS, start=1):
            billing_host = billing_urls.get(name, ok_url) + BILLING_PATH
            userside_host = userside_urls.get(name, us_url)
            _add_billing(configs, env, number, name, billing_host, userside_host)
        process = subprocess.run(
            [sys.executable, "-m", "tests.integration.supervised"]
            + [f"usm_billing_{name}" for name in DAGS],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        _stop(servers, us_servers)
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-5000:]
    results = {}
    for line in process.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
            results[result["dag_id"].removeprefix("usm_billing_")] = result
    assert sorted(results) == sorted(DAGS), output[-5000:]
    print("supervised runs, seconds:", {name: r["seconds"] for name, r in results.items()})
    return Runs(home, results, output)


def test_the_tasks_ran_supervised_and_failed_where_expected(runs: Runs) -> None:
    ok = runs.results["secrets_ok"]["tasks"]
    assert set(ok.values()) == {"success"}, ok
    assert runs.results["secrets_http_error"]["tasks"]["extract_billing"] == "failed"
    assert runs.results["secrets_billing_down"]["tasks"]["start"] == "failed"
    assert runs.results["secrets_userside_down"]["tasks"]["start"] == "failed"
    assert runs.results["secrets_echo_start"]["tasks"]["start"] == "failed"
    assert runs.results["secrets_http_error"]["tasks"]["extract_userside"] == "failed"
    load = runs.results["secrets_echo_load"]["tasks"]
    assert (load["load_customers"], load["finish"], load["report"]) == (
        "success",
        "failed",
        "failed",
    )
    assert "executor=LocalExecutor" in runs.output
    for dag in DAGS:
        assert runs.log_files(dag), f"no task log files for {dag}"
    # A task log file is written by the supervisor, as JSON lines.
    first = runs.task_log("secrets_ok", "start").splitlines()[0]
    assert json.loads(first)["timestamp"]


def test_no_key_in_task_logs_or_executor_output(runs: Runs) -> None:
    files = runs.log_files()
    assert len(files) >= len(runs.results["secrets_ok"]["tasks"])
    leaked = {str(p.relative_to(runs.home)): leaks(p.read_bytes()) for p in files}
    assert {p: names for p, names in leaked.items() if names} == {}
    assert leaks(runs.output) == []


def test_no_key_in_exception_texts(runs: Runs) -> None:
    failures = {  # the failed task and a word its exception text must hold
        ("secrets_http_error", "extract_billing"): "500",
        ("secrets_billing_down", "start"): "",
        ("secrets_userside_down", "start"): "",
        # an echo is quoted, masked
        ("secrets_echo_start", "start"): "set_start_info: refused key=***",
        ("secrets_http_error", "extract_userside"): "HTTP 400 (refused key=***",
        ("secrets_echo_load", "finish"): "HTTP 403 (refused key=***",
        ("secrets_echo_load", "report"): "",
    }
    for (dag, task_id), expected in failures.items():
        texts = []
        for line in runs.task_log(dag, task_id).splitlines():
            record = json.loads(line)
            texts.extend(d.get("exc_value") or "" for d in record.get("error_detail") or [])
        assert any(text and expected in text for text in texts), (dag, task_id, texts)
        assert [t for t in texts if leaks(t)] == []


def test_no_key_in_xcom_values(runs: Runs) -> None:
    rows = runs.rows("SELECT dag_id, task_id, value FROM xcom WHERE dag_id IN ({dags})")
    assert {task for _, task, _ in rows} >= {"start", "extract_billing", "load_customers"}
    assert [(dag, task) for dag, task, value in rows if leaks(str(value))] == []
    stored = [p for p in (runs.home / "xcom").rglob("*") if p.is_file()]
    assert stored, "no XCom went to object storage (threshold 1 KiB)"
    texts = [str(value) for _, _, value in rows]
    for path in stored:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        assert leaks(data) == [], path
        texts.append(data.decode("utf-8", errors="replace"))
    # the records UserSide refused with an echo are in the summary, their reason masked
    assert any("group_add: HTTP 400 (refused key=***" in text for text in texts)


def test_no_key_in_rendered_template_fields(runs: Runs) -> None:
    rows = runs.rows(
        "SELECT dag_id, task_id, rendered_fields FROM rendered_task_instance_fields "
        "WHERE dag_id IN ({dags})"
    )
    assert {task for _, task, _ in rows} >= {"start", "diff_customers", "report"}
    assert [(dag, task) for dag, task, fields in rows if leaks(str(fields))] == []


def test_no_key_anywhere_in_the_metadata_db(runs: Runs) -> None:
    for suffix in ("", "-wal", "-journal"):
        path = runs.db.with_name(runs.db.name + suffix)
        if path.exists():
            assert leaks(path.read_bytes()) == [], path.name


# --- the check command and the CLI, in this process --------------------------------

IN_PROCESS = {  # config stem → (billing echoes, UserSide echoes)
    "check_lists": (
        {"get_services_list": (200, "json"), "get_user_tags": (200, "text")},
        {"module.get_system_information": (400, "ErrorText")},
    ),
    "check_refused": ({"get_system_information": (200, "axbills")}, {}),
    "cli_load": ({}, {"customer.group_add": (400, "ErrorText")}),
    "cli_extract": ({"get_user_list": (200, "text")}, {}),
}


@pytest.fixture(scope="module")
def echo_configs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One echoing billing and UserSide per config of :data:`IN_PROCESS`, and its YAML."""
    folder = tmp_path_factory.mktemp("echo_configs")
    dataset = generate(30, seed=11)
    servers, us_servers, env = [], [], {}
    for number, (name, (billing_echo, us_echo)) in enumerate(IN_PROCESS.items(), start=1):
        billing = start_billing_server(EchoingBilling(dataset, key=BILLING_KEY, echo=billing_echo))
        userside = start_userside_server(
            EchoingUserSide(UserSideState(), key=USERSIDE_KEY, echo=us_echo)
        )
        servers.append(billing)
        us_servers.append(userside)
        billing_url = f"http://127.0.0.1:{billing[0].server_address[1]}{BILLING_PATH}"
        us_url = f"http://127.0.0.1:{userside[0].server_address[1]}"
        _add_billing(folder, env, number, name, billing_url, us_url, state_path=str(folder / "s"))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield folder
    _stop(servers, us_servers)


@pytest.mark.parametrize(
    ("argv", "status", "masked_in"),
    [
        pytest.param(["check", "--config", "check_lists"], 1, "out", id="check-report"),
        pytest.param(["check", "--config", "check_refused"], 2, "err", id="check-refused"),
        pytest.param(["sync", "--config", "cli_load"], 2, "out", id="cli-load-failures"),
        pytest.param(["sync", "--config", "cli_extract"], 1, "err", id="cli-extract-fails"),
    ],
)
def test_no_key_in_check_or_cli_output(echo_configs, capsys, caplog, argv, status, masked_in):
    from usm_billing.cli import main

    argv = [*argv[:-1], str(echo_configs / f"{argv[-1]}.yaml")]
    assert main(argv) == status
    captured = capsys.readouterr()
    assert leaks(captured.out) == []
    assert leaks(captured.err) == []
    assert leaks(caplog.text) == []
    assert "key=***" in getattr(captured, masked_in)  # the echo was quoted, masked
