"""``python -m usm_billing check --config FILE``: whether this billing works with this config.

Probes the billing (``get_system_information``, ``get_api_information``,
``get_supported_method_list``), fetches every list the config needs once, validates every
record with the importer's own parsers, reads UserSide's clock, and prints a compatibility
report: API version, methods present and missing, clock skew, records that fail
validation (record, field, reason) and a verdict. Nothing is written anywhere.

Three layers, so the judgement is testable without sockets:

* :func:`collect` — I/O only: one request per method through the hooks, each answer kept
  as a :class:`Probe` (value or error text);
* :func:`build_report` — pure: config + probes in, :class:`CheckReport` out;
* :func:`render` — pure: the report as text.

Exit codes of :func:`check_command`: 0 compatible (warnings allowed), 1 a blocking problem,
2 the check could not run (config error, billing unreachable, key refused) — the last is
one line on stderr. Keys never appear: error texts come from the hooks, which never put
the key in a message, and the base URL is printed without credentials or ``key=``.
"""

from __future__ import annotations

import difflib
import logging
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TextIO
from urllib.parse import urlsplit, urlunsplit

import pendulum
from airflow.sdk.exceptions import AirflowNotFoundException
from pydantic import ValidationError

from usm_billing.config import load_config
from usm_billing.exceptions import ApiError, FatalApiError, UsmBillingError
from usm_billing.transport import redact
from usm_billing.universal_api.catalogues import BillingState, BillingTariff, NamedItem
from usm_billing.universal_api.customers import parse_customer
from usm_billing.universal_api.fields import RecordError
from usm_billing.universal_api.hook import UniversalApiHook
from usm_billing.universal_api.payload import iter_items
from usm_billing.userside.hook import UserSideHook

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from usm_billing.config import BillingConfig

__all__ = [
    "CLOCK_SKEW_WARNING_S",
    "KNOWN_METHODS",
    "CheckReport",
    "Finding",
    "MethodRow",
    "Need",
    "Probe",
    "build_report",
    "check_command",
    "collect",
    "needed_methods",
    "render",
    "run_check",
]

#: Every method of the Universal API catalogue (spec §2).
KNOWN_METHODS = frozenset(
    {
        "get_api_information",
        "get_system_information",
        "get_supported_method_list",
        "get_tariff_list",
        "get_services_list",
        "get_user_state_list",
        "get_user_group_list",
        "get_user_tags",
        "get_user_additional_data_type_list",
        "get_city_list",
        "get_city_district_list",
        "get_street_list",
        "get_house_list",
        "get_user_list",
        "get_user_messages",
        "get_user_history",
        "get_potential_user_list",
        "get_device_type",
        "get_device_model",
        "get_device_list",
        "get_connect_list",
        "change_user_data",
        "get_supported_change_user_data_list",
        "get_supported_change_user_state",
        "get_supported_change_user_tariff",
    }
)
PROBES = ("get_system_information", "get_api_information", "get_supported_method_list")
FUNCTIONALS = ("work", "nomoney", "pause", "disable", "new", "stop")
CLOCK_SKEW_WARNING_S = 300
MAX_LISTED = 20
UNKNOWN_TARIFF_LISTED = 5
_ADDRESS = "addresses (read when UserSide's setting is_update_address=1)"
_CORE_LISTS = ("get_tariff_list", "get_user_state_list", "get_user_list")
#: other lists: (count label, record label)
_CATALOGUES = {
    "get_user_group_list": ("groups", "group"),
    "get_user_tags": ("tags", "tag"),
    "get_services_list": ("services", "service"),
    "get_user_messages": ("messages", "message"),
    "get_city_list": ("cities", "city"),
    "get_street_list": ("streets", "street"),
    "get_house_list": ("houses", "house"),
}


@dataclass(frozen=True)
class Need:
    """A billing method this config uses; ``required`` ones block the import when missing."""

    method: str
    purpose: str
    required: bool


def needed_methods(config: BillingConfig) -> tuple[Need, ...]:
    """What an import with ``config`` requests (spec §0.1, §4.1; carbon5 per §4.5)."""
    needs = [
        Need("get_system_information", "billing clock, mandatory (§3.2)", True),
        Need("get_tariff_list", "tariffs", True),
        Need("get_user_state_list", "customer states", True),
        Need("get_user_list", "customers", True),
        Need("get_user_group_list", "customer groups", False),
    ]
    if config.billing_name == "standart":
        needs.append(Need("get_user_tags", "customer tags", False))
        needs.append(Need("get_services_list", "services", False))
        if config.import_message:
            needs.append(Need("get_user_messages", "messages (import_message)", True))
    needs.extend(Need(m, _ADDRESS, False) for m in ("get_city_list", "get_street_list"))
    needs.append(Need("get_house_list", _ADDRESS, False))
    return tuple(needs)


@dataclass(frozen=True)
class Probe:
    """One request's outcome: the decoded JSON, or the error text (never both)."""

    method: str
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The request answered with JSON."""
        return self.error is None


@dataclass(frozen=True)
class Finding:
    """One line of the verdict; ``blocking`` makes the billing not compatible."""

    severity: Literal["blocking", "warning", "note"]
    text: str


@dataclass(frozen=True)
class MethodRow:
    """One needed method in the report: advertised by the billing, and answered."""

    need: Need
    advertised: bool | None  # None: the billing publishes no method list
    answered: bool
    detail: str


@dataclass
class CheckReport:
    """Everything ``check`` found; :func:`render` prints it."""

    billing: str
    url: str
    product: str
    api_version: str
    clock: str
    skew_seconds: int | None
    methods: list[MethodRow]
    advertised_count: int | None
    counts: dict[str, int] = field(default_factory=dict)
    record_errors: list[str] = field(default_factory=list)
    record_error_count: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        """The findings that make the verdict NOT COMPATIBLE."""
        return [f for f in self.findings if f.severity == "blocking"]

    @property
    def warnings(self) -> list[Finding]:
        """The findings the verdict stays COMPATIBLE despite."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def verdict(self) -> str:
        """The report's last line."""
        if self.blocking:
            return f"NOT COMPATIBLE: {len(self.blocking)} blocking problem(s)"
        if self.warnings:
            return f"COMPATIBLE, {len(self.warnings)} warning(s)"
        return "COMPATIBLE"

    @property
    def exit_code(self) -> int:
        """The CLI's exit code: 1 with a blocking finding, else 0."""
        return 1 if self.blocking else 0

    def to_json(self) -> dict[str, Any]:
        """A summary for XCom and scripts (no record values)."""
        return {
            "billing": self.billing,
            "api_version": self.api_version,
            "skew_seconds": self.skew_seconds,
            "missing": [r.need.method for r in self.methods if not r.answered],
            "counts": dict(self.counts),
            "record_errors": self.record_error_count,
            "blocking": [f.text for f in self.blocking],
            "warnings": [f.text for f in self.warnings],
            "verdict": self.verdict,
        }


# --- I/O ---------------------------------------------------------------------------------


def _probe(billing: UniversalApiHook, method: str) -> Probe:
    try:
        return Probe(method, value=billing.fetch(method))
    except ApiError as err:
        return Probe(method, error=str(err))


def collect(
    config: BillingConfig, billing: UniversalApiHook, userside: UserSideHook
) -> tuple[dict[str, Probe], Probe]:
    """One request per probe and needed method, then UserSide's clock.

    ``get_system_information`` goes first and is not caught: if the billing cannot be
    reached, refuses the key or does not speak the dialect, nothing else is worth asking.
    """
    first = "get_system_information"
    try:
        probes = {first: Probe(first, value=billing.fetch(first))}
    except FatalApiError as err:
        if "unknown request" not in str(err):
            raise
        msg = (
            f"{err}: this billing does not answer `{first}` in the `{config.billing_name}` "
            "dialect at this URL; check `billing_name` and the connection's base URL"
        )
        raise FatalApiError(msg) from None
    for method in (*PROBES[1:], *(n.method for n in needed_methods(config))):
        if method not in probes:
            probes[method] = _probe(billing, method)
    try:
        erp = Probe("get_system_information", value=userside.get_system_information())
    except (ApiError, AirflowNotFoundException) as err:
        erp = Probe("get_system_information", error=str(err))
    return probes, erp


def base_url(billing: UniversalApiHook) -> str:
    """The billing's base URL without credentials and with any ``key=`` value masked."""
    parts = urlsplit(billing.base_url_of_connection())
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return redact(urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")))


def run_check(config: BillingConfig) -> CheckReport:
    """Probe, validate and judge one billing (raises when the billing cannot be asked)."""
    billing = UniversalApiHook(config.billing_conn_id, dialect=config.billing_name, attempts=1)
    userside = UserSideHook(config.userside_conn_id, attempts=1)
    probes, erp = collect(config, billing, userside)
    return build_report(config, probes, erp, url=base_url(billing))


def check_command(
    config_path: Path, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """The CLI: print the report (exit 0 or 1), or one line on stderr (exit 2)."""
    out, err = out or sys.stdout, err or sys.stderr
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)  # the report is the output, not the hooks' log lines
    try:
        report = run_check(load_config(config_path))
    except (UsmBillingError, AirflowNotFoundException) as problem:
        print(f"check: {_one_line(problem)}", file=err, flush=True)
        return 2
    finally:
        root.setLevel(level)
    print(render(report), file=out, flush=True)
    return report.exit_code


def _one_line(problem: Exception) -> str:
    text = " ".join(str(problem).split())
    if isinstance(problem, AirflowNotFoundException):
        text += " (define it as an AIRFLOW_CONN_<ID> variable or in Airflow's connections)"
    return redact(text)


# --- pure judgement ----------------------------------------------------------------------


def _unix(date: str, tz: str) -> int | None:
    try:
        parsed = pendulum.parse(date, tz=pendulum.timezone(tz))
    except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
        return None
    # an ISO duration or interval ("P1D") parses too, but is no moment
    return int(parsed.timestamp()) if isinstance(parsed, pendulum.DateTime) else None


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
    billing_time = _unix(billing_date, config.billing_timezone)
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
    erp_time = _unix(erp_date, "UTC")
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


@dataclass
class _Validation:
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def fail(self, kind: str, key: str, field_name: str, reason: str) -> None:
        self.errors.append(f"{kind} `{key}`: field `{field_name}`: {reason}")


def _validate_tariffs(value: Any, check: _Validation) -> set[str]:
    ids = set()
    for key, raw in iter_items(value):
        ids.add(key)
        try:
            BillingTariff.from_raw(key, raw)
        except RecordError as err:
            check.fail("tariff", key, err.field, err.reason)
        except ValidationError as err:
            check.fail("tariff", key, *_first_error(err))
    check.counts["tariffs"] = len(ids)
    return ids


def _validate_states(value: Any, check: _Validation, findings: list[Finding]) -> set[str]:
    ids = set()
    for key, raw in iter_items(value):
        ids.add(key)
        if not isinstance(raw, dict):
            check.fail("state", key, "(row)", "expected a JSON object")
            continue
        try:
            state = BillingState.model_validate({**raw, "id": key})
        except ValidationError as err:
            check.fail("state", key, *_first_error(err))
            continue
        if state.functional not in FUNCTIONALS:
            findings.append(
                Finding(
                    "warning",
                    f"state `{key}`: field `functional`: `{state.functional}` is not one of "
                    f"{', '.join(FUNCTIONALS)}; its customers keep the raw state id (§3.5)",
                )
            )
    check.counts["states"] = len(ids)
    return ids


def _first_error(err: ValidationError) -> tuple[str, str]:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(row)"
    return where, first["msg"].removeprefix("Value error, ")


def _validate_catalogue(method: str, value: Any, check: _Validation) -> None:
    label, kind = _CATALOGUES[method]
    count = 0
    for key, raw in iter_items(value):
        count += 1
        if not isinstance(raw, dict):
            check.fail(kind, key, "(row)", "expected a JSON object")
            continue
        if method in ("get_user_group_list", "get_user_tags", "get_services_list"):
            try:
                NamedItem.model_validate({**raw, "id": key})
            except ValidationError as err:
                check.fail(kind, key, *_first_error(err))
    check.counts[label] = count


def _validate_customers(
    value: Any,
    tariffs: set[str] | None,
    states: set[str],
    check: _Validation,
    findings: list[Finding],
) -> None:
    usable = 0
    unknown_tariffs: Counter[str] = Counter()
    unknown_tariff_customers: list[str] = []
    unknown_states: Counter[str] = Counter()
    for key, raw in iter_items(value):
        try:
            customer = parse_customer(key, raw)
        except RecordError as err:
            check.fail("customer", err.record_id, err.field, err.reason)
            continue
        usable += 1
        if tariffs is not None:
            named = {*customer.tariff_current, *(customer.tariff_new or ("",))[:1]}
            missing = {t for t in named if t not in ("", None) and t not in tariffs}
            unknown_tariffs.update(missing)
            if missing:
                unknown_tariff_customers.append(customer.id)
        if customer.state_id and states and customer.state_id not in states:
            unknown_states[customer.state_id] += 1
    check.counts["customers"] = usable
    if unknown_tariff_customers:
        findings.append(_unknown_tariff_finding(unknown_tariffs, unknown_tariff_customers))
    for state, count in sorted(unknown_states.items()):
        findings.append(
            Finding(
                "note",
                f"{count} customer(s) have state_id `{state}`, which get_user_state_list does "
                "not list (sent to UserSide as the raw id, §3.5)",
            )
        )
    if usable < 2:
        findings.append(
            Finding(
                "blocking",
                f"{usable} usable customer(s); the import needs at least 2 before it writes "
                "anything (spec §4.4 Safety)",
            )
        )


def _unknown_tariff_finding(tariffs: Counter[str], customers: list[str]) -> Finding:
    """Customers naming a tariff (current or scheduled) the billing's tariff list lacks,
    e.g. uBilling's ``*_NO_TARIFF_*`` marker: the import leaves that link alone (contract
    §11), so their UserSide tariff stays as it is."""
    ids = sorted(customers)
    shown = ", ".join(f"`{uid}`" for uid in ids[:UNKNOWN_TARIFF_LISTED])
    more = (
        f" and {len(ids) - UNKNOWN_TARIFF_LISTED} more" if len(ids) > UNKNOWN_TARIFF_LISTED else ""
    )
    named = ", ".join(f"`{t}` ({n})" for t, n in sorted(tariffs.items()))
    return Finding(
        "note",
        f"{len(ids)} customer(s) have a tariff get_tariff_list does not list: {named}; "
        f"the import leaves those tariff links alone (contract §11): {shown}{more}",
    )


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
    check = _Validation()

    def value(method: str) -> Any:
        probe = probes.get(method)
        return probe.value if probe is not None and probe.ok else None

    answered = {m for m, p in probes.items() if p.ok}
    tariffs, states = set(), set()
    if "get_tariff_list" in answered:
        tariffs = _validate_tariffs(value("get_tariff_list"), check)
    if "get_user_state_list" in answered:
        states = _validate_states(value("get_user_state_list"), check, findings)
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
        _validate_customers(value("get_user_list"), known, states, check, findings)
    for need in needed_methods(config):
        if need.method in _CATALOGUES and need.method in answered:
            _validate_catalogue(need.method, value(need.method), check)
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


def render(report: CheckReport) -> str:
    """The report as text (no record values, no keys)."""
    lines = [
        f"usm_billing check: {report.billing}",
        f"  url          {report.url}" if report.url else "",
        f"  billing      {report.product}",
        f"  API version  {report.api_version}",
        f"  clock        {report.clock}",
        "  clock skew   "
        + ("not measured" if report.skew_seconds is None else f"{report.skew_seconds:+d} s"),
    ]
    listed = (
        "no method list published"
        if report.advertised_count is None
        else f"{report.advertised_count} advertised by get_supported_method_list"
    )
    lines.append(f"methods this config uses ({listed}):")
    width = max(len(r.need.method) for r in report.methods)
    for row in report.methods:
        status = "ok" if row.answered else ("MISSING" if row.need.required else "missing")
        said = {True: "advertised", False: "not advertised", None: "-"}[row.advertised]
        kind = "required" if row.need.required else "optional"
        detail = f"  {row.detail}" if row.detail else ""
        lines.append(
            f"  {status:<8}{row.need.method:<{width + 2}}{kind:<10}{said:<16}"
            f"{row.need.purpose}{detail}"
        )
    counts = ", ".join(f"{kind} {n}" for kind, n in report.counts.items())
    lines.append(f"records: {counts or 'none read'}; {report.record_error_count} fail validation")
    lines.extend(f"  {text}" for text in report.record_errors)
    if report.record_error_count > len(report.record_errors):
        lines.append(f"  … and {report.record_error_count - len(report.record_errors)} more")
    for severity in ("blocking", "warning", "note"):
        lines.extend(f"{severity}: {f.text}" for f in report.findings if f.severity == severity)
    lines.append(f"verdict: {report.verdict}")
    return "\n".join(line for line in lines if line)
