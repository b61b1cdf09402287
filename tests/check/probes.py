"""Probes in, a report out: the shared table inputs of the check's pure tests (a baseline
billing that passes, with per-case overrides)."""

from __future__ import annotations

from typing import Any

from usm_billing.check.judge import build_report
from usm_billing.check.report import KNOWN_METHODS, Probe
from usm_billing.config import BillingConfig


class Fail(str):
    """A probe that failed with this error text."""


def config(**settings: Any) -> BillingConfig:
    return BillingConfig(billing_id=1, billing_conn_id="b", userside_conn_id="u", **settings)


def customer(tariff: str = "1", **fields: Any) -> dict[str, Any]:
    return {"login": "x", "tariff": {"current": [{"id": tariff}]}, "state_id": 5, **fields}


BASE: dict[str, Any] = {
    "get_system_information": {
        "date": "2026-11-25 12:00:00",
        "os": "Linux",
        "billing": {"name": "Bill", "version": "4.2"},
    },
    "get_api_information": {"version": "1.5", "date": "06.10.2017"},
    "get_supported_method_list": {m: {"comment": ""} for m in sorted(KNOWN_METHODS)},
    "get_tariff_list": {"1": {"id": 1, "name": "Home", "payment": 10, "payment_interval": 30}},
    "get_user_state_list": {"5": {"id": 5, "name": "Active", "functional": "work"}},
    "get_user_list": {"a": customer(), "b": customer()},
    "get_user_group_list": {"3": {"id": 3, "name": "Business"}},
    "get_user_tags": {},
    "get_services_list": {},
    "get_user_messages": {},
    "get_city_list": {},
    "get_street_list": {},
    "get_house_list": {},
}
ERP_DATE = "2026-11-25 12:00:10"


def probes(overrides: dict[str, Any]) -> dict[str, Probe]:
    probes = {}
    for method, value in {**BASE, **overrides}.items():
        failed = isinstance(value, Fail)
        probes[method] = Probe(method, None if failed else value, str(value) if failed else None)
    return probes


def judged(overrides: dict[str, Any], erp: Any = ERP_DATE, **settings: Any):
    erp_probe = (
        Probe("get_system_information", error=str(erp))
        if isinstance(erp, Fail)
        else Probe("get_system_information", value={"date": erp})
    )
    return build_report(config(**settings), probes(overrides), erp_probe)
