"""docker-compose.yaml cannot run here (no Docker engine): it is validated as data.

Checks what breaks Airflow 3 deployments in practice: one JWT secret for every service,
a dag-processor, the object-storage XCom backend, low parallelism, the package mounts,
and connections for the demo emulators."""

from __future__ import annotations

import yaml

from scripts.airflow_env import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text(encoding="utf-8"))
AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)


def test_services_present():
    services = COMPOSE["services"]
    for name in (*AIRFLOW_SERVICES, "postgres", "userside-emulator", "billing-emulator"):
        assert name in services, f"docker-compose.yaml lacks `{name}`"
    assert services["airflow-worker"]["profiles"] == ["celery"]


def test_airflow_services_share_one_environment():
    env = COMPOSE["services"]["airflow-scheduler"]["environment"]
    for name in AIRFLOW_SERVICES:
        assert (
            COMPOSE["services"][name]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"]
            == (env["AIRFLOW__API_AUTH__JWT_SECRET"])
        ), f"{name}: the JWT secret must be identical in every service"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert int(env["AIRFLOW__CORE__PARALLELISM"]) <= 8
    assert env["AIRFLOW__CORE__XCOM_BACKEND"].endswith("XComObjectStorageBackend")
    assert env["USM_BILLING_CONFIG_DIR"] == "/opt/airflow/include/config/billings"


def test_package_is_mounted_where_airflow_looks():
    volumes = COMPOSE["services"]["airflow-scheduler"]["volumes"]
    for mount in (
        "./dags:/opt/airflow/dags",
        "./plugins:/opt/airflow/plugins",
        "./include:/opt/airflow/include",
    ):
        assert mount in volumes


def test_demo_connections_point_at_the_emulator_services():
    env = COMPOSE["services"]["airflow-scheduler"]["environment"]
    assert yaml.safe_load(env["AIRFLOW_CONN_USM_BILLING_DEMO"])["host"].startswith(
        "http://billing-emulator:8082/"
    )
    assert yaml.safe_load(env["AIRFLOW_CONN_USM_USERSIDE_DEMO"])["host"] == (
        "http://userside-emulator:8081"
    )
