"""What the compatibility check asks and what it found: the methods a config needs, each
request's outcome, the findings and the report (spec §0.1, §2, §4.1).

The data the three layers of :mod:`usm_billing.check` pass each other; no I/O, no
judgement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = [
    "KNOWN_METHODS",
    "CheckReport",
    "Finding",
    "MethodRow",
    "Need",
    "Probe",
    "needed_methods",
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
_ADDRESS = "addresses (read when UserSide's setting is_update_address=1)"


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
