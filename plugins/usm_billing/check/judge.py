"""The compatibility judgement, pure: config + probes in, a report out (spec §0.1, §3.2,
§4.1, §4.6.1).

The billing's product, API version and clock, the methods it advertises and answers, and
its records (validated by :mod:`usm_billing.check.records`), each turned into findings.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from usm_billing.check.records import (
    CATALOGUES,
    Validation,
    validate_catalogue,
    validate_customers,
    validate_states,
    validate_tariffs,
)
from usm_billing.check.report import KNOWN_METHODS, CheckReport, Finding, MethodRow, needed_methods
from usm_billing.universal_api.fields import to_unix
from usm_billing.universal_api.payload import iter_items

if TYPE_CHECKING:
    from collections.abc import Mapping

    from usm_billing.check.report import Probe
    from usm_billing.config import BillingConfig

__all__ = ["CLOCK_SKEW_WARNING_S", "build_report"]

CLOCK_SKEW_WARNING_S = 300
MAX_LISTED = 20


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _product(system: Any) -> str:
    info = system.get("billing") if isinstance(system, dict) else None
    info = info if isinstance(info, dict) else {}
    name = " ".join(p for p in (_text(info.get("name")), _text(info.get("version"))) if p)
    os_name = _text(system.get("os")) if isinstance(system, dict) else ""
    product = name or "(billing.name not stated)"
    return f"{product} on {os_name}" if os_name else product


def _api_version(probe: Probe | None, findings: list[Finding]) -> str:
    if probe is None or not probe.ok:
        reason = probe.error if probe else "not asked"
        findings.append(Finding("note", f"get_api_information failed: {reason}"))
        return "unknown"
    value = probe.value if isinstance(probe.value, dict) else {}
    version, date = _text(value.get("version")), _text(value.get("date"))
    if not version:
        return f"not stated (empty `version`{', date ' + date if date else ''})"
    return f"{version} ({date})" if date else version


def _advertised(probe: Probe | None, findings: list[Finding]) -> set[str] | None:
    if probe is None or not probe.ok:
        reason = probe.error if probe else "not asked"
        findings.append(
            Finding("note", f"get_supported_method_list failed ({reason}); methods were probed")
        )
        return None
    names = {key for key, _ in iter_items(probe.value)}
    for name in sorted(names - KNOWN_METHODS):
        close = difflib.get_close_matches(name, KNOWN_METHODS, n=1)
        hint = f" (the importer asks `{close[0]}`)" if close else ""
        findings.append(
            Finding("note", f"advertises `{name}`, which is not a Universal API method{hint}")
        )
    return names


def _clock(
    system: Any, erp: Probe, config: BillingConfig, findings: list[Finding]
) -> tuple[str, int | None]:
    billing_date = _text(system.get("date")) if isinstance(system, dict) else ""
    if not billing_date:
        findings.append(
            Finding(
                "blocking",
                "get_system_information has no `date`: the import aborts there (spec §3.2)",
            )
        )
        return "billing clock missing", None
    billing_time = to_unix(billing_date, config.billing_timezone)
    if billing_time is None:
        findings.append(
            Finding("warning", f"the billing clock `{billing_date}` cannot be parsed as a date")
        )
    if not erp.ok:
        findings.append(
            Finding("blocking", f"UserSide cannot be asked, the import cannot run: {erp.error}")
        )
        return f"billing {billing_date}; UserSide not reached", None
    erp_date = _text(erp.value.get("date")) if isinstance(erp.value, dict) else ""
    erp_time = to_unix(erp_date, "UTC")
    clock = f"billing {billing_date} ({config.billing_timezone}), UserSide {erp_date}"
    if billing_time is None or erp_time is None:
        return clock, None
    skew = billing_time - erp_time
    if abs(skew) > CLOCK_SKEW_WARNING_S:
        findings.append(
            Finding(
                "warning",
                f"clock skew {skew:+d} s (billing minus UserSide): check both clocks and "
                "`billing_timezone`; activity dates and traffic intervals depend on them",
            )
        )
    return clock, skew


def _method_rows(
    config: BillingConfig,
    probes: Mapping[str, Probe],
    advertised: set[str] | None,
    findings: list[Finding],
) -> list[MethodRow]:
    rows = []
    for need in needed_methods(config):
        probe = probes.get(need.method)
        said = None if advertised is None else need.method in advertised
        if probe is not None and probe.ok:
            rows.append(MethodRow(need, said, True, ""))
            if said is False:
                findings.append(
                    Finding(
                        "note",
                        f"`{need.method}` answers although get_supported_method_list "
                        "does not list it",
                    )
                )
            continue
        detail = probe.error if probe is not None else "not asked"
        rows.append(MethodRow(need, said, False, detail or ""))
        if need.required:
            findings.append(Finding("blocking", f"required `{need.method}` failed: {detail}"))
        else:
            findings.append(
                Finding(
                    "warning",
                    f"`{need.method}` failed, so {need.purpose} will not be imported "
                    f"(not fatal for the run): {detail}",
                )
            )
    return rows


def build_report(
    config: BillingConfig,
    probes: Mapping[str, Probe],
    erp: Probe,
    *,
    url: str = "",
) -> CheckReport:
    """The whole judgement; pure (probes in, report out)."""
    findings: list[Finding] = []
    system_probe = probes.get("get_system_information")
    system = system_probe.value if system_probe is not None and system_probe.ok else {}
    clock, skew = _clock(system, erp, config, findings)
    advertised = _advertised(probes.get("get_supported_method_list"), findings)
    report = CheckReport(
        billing=f"billing `{config.billing_conn_id}` (dialect {config.billing_name})",
        url=url,
        product=_product(system),
        api_version=_api_version(probes.get("get_api_information"), findings),
        clock=clock,
        skew_seconds=skew,
        methods=_method_rows(config, probes, advertised, findings),
        advertised_count=None if advertised is None else len(advertised),
    )
    check = Validation()

    def value(method: str) -> Any:
        probe = probes.get(method)
        return probe.value if probe is not None and probe.ok else None

    answered = {m for m, p in probes.items() if p.ok}
    tariffs, states = set(), set()
    if "get_tariff_list" in answered:
        tariffs = validate_tariffs(value("get_tariff_list"), check)
    if "get_user_state_list" in answered:
        states = validate_states(value("get_user_state_list"), check, findings)
    if "get_tariff_list" in answered and not tariffs:
        findings.append(
            Finding(
                "warning",
                "get_tariff_list is empty: the import refuses to run while UserSide still "
                "has tariffs of this billing (a vanished catalogue, spec §4.6.1)",
            )
        )
    if "get_user_list" in answered:
        known = tariffs if "get_tariff_list" in answered else None
        validate_customers(value("get_user_list"), known, states, check, findings)
    for need in needed_methods(config):
        if need.method in CATALOGUES and need.method in answered:
            validate_catalogue(need.method, value(need.method), check)
    if check.errors:
        findings.append(
            Finding(
                "warning",
                f"{len(check.errors)} record(s) fail validation; the import skips them and "
                "leaves them untouched in UserSide",
            )
        )
    order = ("customers", "tariffs", "states")
    report.counts = {k: check.counts[k] for k in order if k in check.counts} | check.counts
    report.record_errors = check.errors[:MAX_LISTED]
    report.record_error_count = len(check.errors)
    report.findings = findings
    return report
