"""Validation of every record a billing serves, with the importer's own parsers: tariffs,
states, customers and the catalogues (spec §3.4–3.13, §4.4 Safety, contract §11).

Part of the pure judgement of :mod:`usm_billing.check.judge`: a record that fails is
named with its field and reason, and what the import would do about the records that
pass but refer to unknown tariffs or states becomes a finding.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from usm_billing.check.report import Finding
from usm_billing.universal_api.catalogues import BillingState, BillingTariff, NamedItem
from usm_billing.universal_api.customers import parse_customer
from usm_billing.universal_api.fields import RecordError
from usm_billing.universal_api.payload import iter_items

__all__ = [
    "CATALOGUES",
    "Validation",
    "validate_catalogue",
    "validate_customers",
    "validate_states",
    "validate_tariffs",
]

FUNCTIONALS = ("work", "nomoney", "pause", "disable", "new", "stop")
UNKNOWN_TARIFF_LISTED = 5
#: other lists: (count label, record label)
CATALOGUES = {
    "get_user_group_list": ("groups", "group"),
    "get_user_tags": ("tags", "tag"),
    "get_services_list": ("services", "service"),
    "get_user_messages": ("messages", "message"),
    "get_city_list": ("cities", "city"),
    "get_street_list": ("streets", "street"),
    "get_house_list": ("houses", "house"),
}


@dataclass
class Validation:
    """Counts of the records read and the texts of those that fail."""

    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def fail(self, kind: str, key: str, field_name: str, reason: str) -> None:
        """Note one record that fails: which, in which field, why."""
        self.errors.append(f"{kind} `{key}`: field `{field_name}`: {reason}")


def validate_tariffs(value: Any, check: Validation) -> set[str]:
    """Parse every ``get_tariff_list`` row; the ids of the list."""
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


def validate_states(value: Any, check: Validation, findings: list[Finding]) -> set[str]:
    """Parse every ``get_user_state_list`` row, noting a ``functional`` UserSide does not
    know (§3.5); the ids of the list."""
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


def validate_catalogue(method: str, value: Any, check: Validation) -> None:
    """Count the rows of one of :data:`CATALOGUES`; groups, tags and services are parsed."""
    label, kind = CATALOGUES[method]
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


def validate_customers(
    value: Any,
    tariffs: set[str] | None,
    states: set[str],
    check: Validation,
    findings: list[Finding],
) -> None:
    """Parse every ``get_user_list`` row: the usable count (at least 2, §4.4 Safety) and the
    customers naming a tariff or a state their lists lack."""
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
