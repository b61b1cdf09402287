"""docker-compose.yaml cannot run here (no Docker engine): it is validated as data.

Against the Compose Specification schema (tests/fixtures/compose-spec), then for what
breaks Airflow 3 deployments in practice: one JWT secret for every service, a
dag-processor, the object-storage XCom backend, low parallelism, the package mounts,
connections for the demo emulators, state and XCom on named volumes writable by the
airflow user, a `celery` profile that switches the executor of every service, ports on
127.0.0.1 only, and an image without test tools (issue 13, item 8)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from scripts.airflow_env import REPO
from usm_billing.state_store import STATE_DIR

COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text(encoding="utf-8"))
SCHEMA = json.loads(
    (REPO / "tests" / "fixtures" / "compose-spec" / "compose-spec.json").read_text(encoding="utf-8")
)
SERVICES = COMPOSE["services"]
AIRFLOW_HOME = "/opt/airflow"
AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
#: every service that runs task code, so reads and writes the importer's state and XCom
TASK_RUNNERS = ("airflow-scheduler", "airflow-worker")
#: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR:+replacement}; $$ escapes
VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation of one value, as the Compose Specification describes it."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        current = env.get(name)
        present = current is not None and (current != "" or not (op or "").startswith(":"))
        if op in ("+", ":+"):
            return arg if present else ""
        if op in ("?", ":?") and not present:
            pytest.fail(f"${{{name}}} is required: {arg}")
        return current if present and current is not None else (arg or "")

    return VARIABLE.sub(one, value)


def environment(service: str, **env: str) -> dict[str, str]:
    """A service's environment after interpolation with ``env`` (a ``.env``)."""
    variables = {"AIRFLOW_JWT_SECRET": "s3cret", **env}
    return {k: interpolate(str(v), variables) for k, v in SERVICES[service]["environment"].items()}


def test_compose_file_follows_the_compose_specification():
    jsonschema.Draft202012Validator(SCHEMA).validate(COMPOSE)


def test_schema_check_rejects_a_broken_compose_file():
    """The schema check is live: a misspelt service key is refused."""
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["postgres"]["imagee"] = broken["services"]["postgres"].pop("image")
    assert not jsonschema.Draft202012Validator(SCHEMA).is_valid(broken)


def test_services_present():
    for name in (*AIRFLOW_SERVICES, "postgres", "userside-emulator", "billing-emulator"):
        assert name in SERVICES, f"docker-compose.yaml lacks `{name}`"
    assert SERVICES["airflow-worker"]["profiles"] == ["celery"]
    assert SERVICES["redis"]["profiles"] == ["celery"]


def test_airflow_services_share_one_environment():
    env = environment("airflow-scheduler")
    for name in (*AIRFLOW_SERVICES, "airflow-worker"):
        assert environment(name)["AIRFLOW__API_AUTH__JWT_SECRET"] == "s3cret", (
            f"{name}: the JWT secret must be identical in every service"
        )
    assert int(env["AIRFLOW__CORE__PARALLELISM"]) <= 8
    assert env["AIRFLOW__CORE__XCOM_BACKEND"].endswith("XComObjectStorageBackend")
    assert env["USM_BILLING_CONFIG_DIR"] == "/opt/airflow/include/config/billings"


def test_jwt_secret_is_required():
    with pytest.raises(pytest.fail.Exception, match="AIRFLOW_JWT_SECRET"):
        interpolate(
            SERVICES["airflow-scheduler"]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"], {}
        )


@pytest.mark.parametrize(
    ("profiles", "executor"),
    [("", "LocalExecutor"), ("celery", "CeleryExecutor")],
    ids=["no profile: LocalExecutor", "celery profile: CeleryExecutor"],
)
def test_celery_profile_switches_the_executor_of_every_service(profiles: str, executor: str):
    """The first executor of ``[core] executor`` is the one tasks go to."""
    for name in (*AIRFLOW_SERVICES, "airflow-worker"):
        configured = environment(name, COMPOSE_PROFILES=profiles)["AIRFLOW__CORE__EXECUTOR"]
        assert configured.split(",")[0] == executor, name


def test_celery_profile_adds_redis_and_a_worker():
    worker = SERVICES["airflow-worker"]
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "airflow celery worker" in worker["command"][-1]
    # `--profile celery` without COMPOSE_PROFILES=celery: the worker says so and stops
    assert "CeleryExecutor*) exec airflow celery worker" in worker["command"][-1]
    assert "redis://redis:6379/" in environment("airflow-worker")["AIRFLOW__CELERY__BROKER_URL"]
    # the scheduler waits for redis when the profile is on, and not otherwise
    assert SERVICES["airflow-scheduler"]["depends_on"]["redis"] == {
        "condition": "service_healthy",
        "required": False,
    }


def test_package_is_mounted_where_airflow_looks():
    volumes = SERVICES["airflow-scheduler"]["volumes"]
    for mount in (
        "./dags:/opt/airflow/dags",
        "./plugins:/opt/airflow/plugins",
        "./include:/opt/airflow/include",
    ):
        assert mount in volumes


@pytest.mark.parametrize("service", [*AIRFLOW_SERVICES, "airflow-worker"])
def test_state_and_xcom_live_on_named_volumes(service: str):
    """The house cache and the sent-message record (the default ``state_path``) and the
    XCom files survive a rebuild and are the same for every service running tasks."""
    env = environment(service)
    xcom = env["AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH"].removeprefix("file://")
    mounts = dict(volume.split(":", 1)[::-1] for volume in SERVICES[service]["volumes"])
    for path in (xcom, f"{AIRFLOW_HOME}/{STATE_DIR}"):
        assert mounts.get(path) in COMPOSE["volumes"], f"{service}: {path} is no named volume"


def test_writable_folders_are_created_for_the_airflow_user():
    """Docker creates a missing bind-mount folder (./logs) as root: the permissions service
    creates it and chowns it and the volume mount points before anything else starts."""
    permissions = SERVICES["airflow-permissions"]
    assert permissions["user"] == "0:0"
    script = interpolate(permissions["command"][-1], {})
    folders = ("logs", "xcom", STATE_DIR, "config")
    for verb in ("mkdir -p", 'chown -R "50000:0"'):
        line = next(line for line in script.splitlines() if line.startswith(verb))
        for folder in folders:
            assert f"{AIRFLOW_HOME}/{folder}" in line.split(), (verb, folder)
    assert SERVICES["airflow-init"]["depends_on"]["airflow-permissions"] == {
        "condition": "service_completed_successfully"
    }
    for name in AIRFLOW_SERVICES[1:]:
        assert SERVICES[name]["depends_on"]["airflow-init"] == {
            "condition": "service_completed_successfully"
        }, name
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    for folder in ("xcom", STATE_DIR):
        assert f"{AIRFLOW_HOME}/{folder}" in dockerfile, f"the image lacks the {folder} mount point"


def test_init_creates_the_userside_pool():
    script = SERVICES["airflow-init"]["command"][-1]
    assert "airflow db migrate" in script
    assert 'airflow pools set userside "$${USERSIDE_POOL_SLOTS:-2}"' in script


def test_init_writes_the_admin_password_where_the_api_server_reads_it():
    """As JSON, so that any password from .env is one (quotes and backslashes too)."""
    script = SERVICES["airflow-init"]["command"][-1]
    passwords = environment("airflow-apiserver")[
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
    ]
    [line] = [line for line in script.splitlines() if line.endswith(f"> {passwords}")]
    assert 'json.dumps({"admin": os.environ["AIRFLOW_ADMIN_PASSWORD"]})' in line
    assert environment("airflow-apiserver")["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == (
        "admin:admin"
    )
    mounts = dict(v.split(":", 1)[::-1] for v in SERVICES["airflow-apiserver"]["volumes"])
    assert mounts[passwords.rsplit("/", 1)[0]] in COMPOSE["volumes"]


def test_ports_are_bound_to_localhost():
    published = [(name, port) for name, s in SERVICES.items() for port in s.get("ports", [])]
    assert published
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_env_example_lists_every_variable_the_deployment_reads():
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    listed = {line.split("=", 1)[0] for line in example.splitlines() if re.match(r"^\w+=", line)}
    text = (REPO / "docker-compose.yaml").read_text(encoding="utf-8")
    used = {m.group("name") for m in VARIABLE.finditer(text) if m.group("name")}
    # and what the init's shell reads from the environment the .env gives it
    set_by_compose = set(SERVICES["airflow-init"]["environment"])
    used |= set(re.findall(r"\$\$\{(\w+)", text)) - set_by_compose
    assert {"AIRFLOW_ADMIN_PASSWORD", "USERSIDE_POOL_SLOTS", "COMPOSE_PROFILES"} <= used
    assert used <= listed, f".env.example lacks {sorted(used - listed)}"
    assert ".env" in (REPO / ".gitignore").read_text(encoding="utf-8").split()


def test_image_is_the_official_airflow_without_test_tools():
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM apache/airflow:3\.3\.2\b", dockerfile, re.MULTILINE)
    [install] = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert (
        "pip install --no-cache-dir -r /opt/usm_billing/requirements.txt "
        "-c /opt/usm_billing/constraints.txt"
    ) in install
    assert "requirements-dev" not in install
    # the package itself, editable on the plugins folder compose mounts: `usm-billing` runs
    # the mounted code (issue 13 §9)
    assert "--mount=type=bind,source=plugins,target=/opt/airflow/plugins,rw" in install
    assert install.endswith("pip install --no-cache-dir --no-deps -e /opt/airflow")
    runtime = _pins("requirements.txt")
    dev_only = _pins("requirements-dev.txt") - runtime
    assert {"pytest", "ruff", "mypy", "hypothesis"} <= dev_only
    assert not runtime & dev_only


def _pins(name: str) -> set[str]:
    lines = (REPO / name).read_text(encoding="utf-8").splitlines()
    pins = {re.split(r"[=<>\s]", line, maxsplit=1)[0].lower() for line in lines}
    return {pin for pin in pins if pin and not pin.startswith(("#", "-"))}


def test_demo_connections_point_at_the_emulator_services():
    env: dict[str, Any] = environment("airflow-scheduler")
    assert yaml.safe_load(env["AIRFLOW_CONN_USM_BILLING_DEMO"])["host"].startswith(
        "http://billing-emulator:8082/"
    )
    assert yaml.safe_load(env["AIRFLOW_CONN_USM_USERSIDE_DEMO"])["host"] == (
        "http://userside-emulator:8081"
    )
