"""Change sets: plain, deterministic, JSON-serialisable data between a diff and a load.

A change set is what a run *would* write. The dry-run report, the task log audit and the
load all read the same object; ``summary()`` counts it per action and field.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from usm_billing.passwords import audit_values
from usm_billing.sync.messages import MessageAdd
from usm_billing.sync.normalize import loose_equal

__all__ = [
    "AddressChanges",
    "CatalogueChangeSet",
    "CustomerChanges",
    "CustomerEdit",
    "HouseAdd",
    "HouseCompare",
    "HouseEdit",
    "IpChanges",
    "IpEdit",
    "MessageChanges",
    "ObjectEdit",
    "StreetAdd",
    "TariffAdd",
    "TariffChanges",
    "TariffEdit",
]

DEFERRED_CUSTOMER = "$customer"  # a UserSide id known only after group_add (load)


def _field_counts(edits: tuple[Any, ...]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for edit in edits:
        counts.update(edit.fields.keys())
    return dict(sorted(counts.items()))


@dataclass(frozen=True)
class TariffAdd:
    """A billing tariff UserSide does not know yet, with the fields it must end up with."""

    billing_tariff_id: str
    name: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class ObjectEdit:
    """Fields to change on an existing UserSide object (a tariff; a house, old address
    algorithm): its UserSide id, the billing's id for it, and ``previous``, the view's
    values, for the audit."""

    us_id: int
    billing_id: str
    fields: dict[str, Any]
    previous: dict[str, Any]


TariffEdit = ObjectEdit  # tariff group_edit / edit (contract §7)
HouseEdit = ObjectEdit  # edit_house (contract §6.2)


@dataclass(frozen=True)
class TariffChanges:
    """The tariff writes of one run; ``vanished`` are tariffs the billing no longer
    has, marked ``is_in_billing`` 0, never deleted."""

    adds: tuple[TariffAdd, ...] = ()
    edits: tuple[TariffEdit, ...] = ()
    vanished: tuple[TariffEdit, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing to write: the load sends no request."""
        return not (self.adds or self.edits or self.vanished)

    def summary(self) -> dict[str, Any]:
        """The counts of the run report."""
        return {
            "add": len(self.adds),
            "edit": len(self.edits),
            "not_in_billing": len(self.vanished),
            "fields": _field_counts(self.edits),
        }


@dataclass(frozen=True)
class CustomerEdit:
    """``group_edit`` fields of one customer. ``us_id`` is ``None`` for a customer this run
    creates: its UserSide id is known only after ``group_add``.

    ``again``: this write is one step of a multi-step change; the load re-reads this
    customer after it and writes the next step (the diff of the re-read view), until an
    edit comes back without ``again``. Set by the tariff-link and service rules of
    :mod:`usm_billing.sync.customers` when a UNKNOWN of contract §9.4/§9.5 leaves the
    outcome of this step open (see ``_tariff_links`` and ``service_step``)."""

    billing_uid: str
    us_id: int | None
    fields: dict[str, Any]
    previous: dict[str, Any]
    # this write is one step of a multi-step change: the load re-reads this customer
    # after it and writes the next step (usm_billing.tasks.customers)
    again: bool = False

    def audit(self) -> str:
        """One audit line: ``uid (#id): field: old → new; …`` with secrets masked (passwords,
        and every sealed value, e.g. a comment carrying the password). A list operation
        (``add_tariff_id``, ``delete_group_id``, …) shows the list before and after it;
        internal keys (``crc_billing``) are left out."""
        parts = []
        for key, value in self.fields.items():
            if key in AUDIT_HIDDEN:
                continue
            shown, old = audit_values(key, value, self.previous.get(key))
            parts.append(_audit_part(key, shown, old))
        target = f"#{self.us_id}" if self.us_id is not None else "new"
        return f"{self.billing_uid} ({target}): " + "; ".join(parts)


AUDIT_HIDDEN = frozenset({"crc_billing"})  # bookkeeping of the importer, no customer field


def _audit_part(key: str, value: Any, old: Any) -> str:
    """``key: old → new``; for ``add_…``/``delete_…`` of a list, what the list becomes
    (``delete_tariff_id ['5']: ['5', '7'] → ['7']``)."""
    operation = key.split("_", 1)[0]
    if operation in ("add", "delete") and isinstance(value, list) and isinstance(old, list):
        if operation == "add":
            after = [*old, *value]
        else:
            after = [v for v in old if not any(loose_equal(v, d) for d in value)]
        return f"{key} {value!r}: {old!r} → {after!r}"
    return f"{key}: {old!r} → {value!r}"


@dataclass(frozen=True)
class CustomerChanges:
    """Customers to create, then the fields to write (creates included, in the same run).

    ``unknown_tariffs``: ``(billing uid, tariff id)`` pairs, sorted, of customers whose
    billing record names a tariff (current or scheduled) that the billing's own
    ``get_tariff_list`` lacks (e.g. uBilling's ``*_NO_TARIFF_*`` marker). That link is
    left alone, neither sent nor deleted (contract §11, §9.4); the rest of the customer is
    written as usual."""

    creates: tuple[str, ...] = ()
    edits: tuple[CustomerEdit, ...] = ()
    not_in_billing: int = 0
    rejected: tuple[str, ...] = ()
    unknown_tariffs: tuple[tuple[str, str], ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing to write: the load sends no request."""
        return not (self.creates or self.edits)

    def summary(self) -> dict[str, Any]:
        """The counts of the run report; ``edit`` counts existing customers only (the
        edits of this run's new customers go with ``create``)."""
        return {
            "create": len(self.creates),
            "edit": sum(1 for e in self.edits if e.us_id is not None),
            "not_in_billing": self.not_in_billing,
            "rejected": len(self.rejected),
            "unknown_tariff": len(self.unknown_tariffs),
            "again": sum(1 for e in self.edits if e.again),
            "fields": _field_counts(self.edits),
        }


# --- addresses (universal-api.md §4.3, userside-api.md §2.3, contract §6) --------------

ADDRESS_MODES = ("off", "compare_house", "per_object")


@dataclass(frozen=True)
class HouseCompare:
    """One ``compare_house`` entry: the billing house and the payload UserSide matches on."""

    billing_house_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class StreetAdd:
    """``add_street``; ``city_id`` is ``None`` when the city ``city_name`` is created first."""

    city_id: int | None
    city_name: str
    name: str


@dataclass(frozen=True)
class HouseAdd:
    """``add_house`` for billing houses UserSide lacks (old algorithm). ``city_id`` /
    ``street_id`` are ``None`` when the city / street is created in the same run."""

    billing_house_ids: tuple[str, ...]
    city_id: int | None
    city_name: str
    street_id: int | None
    street_name: str
    number: str
    block: str
    floor: int
    entrance: int
    postcode: str


@dataclass(frozen=True)
class AddressChanges:
    """What the address step would write, and the houses already known without a write.

    ``known`` maps billing house ids to UserSide house ids: cache hits of the new algorithm
    (a value < 1 is a cached "UserSide could not match it") or houses the old algorithm
    matched. ``digests`` holds the payload hash of every house of the new algorithm, for
    the cache the load writes; ``partial`` marks a plan of some houses only (one customer's
    run), whose answers are merged into the cache instead of replacing it.
    """

    mode: str = "off"
    disable_create: bool = False
    partial: bool = False
    known: dict[str, int] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    compare: tuple[HouseCompare, ...] = ()
    city_adds: tuple[str, ...] = ()
    street_adds: tuple[StreetAdd, ...] = ()
    house_adds: tuple[HouseAdd, ...] = ()
    house_edits: tuple[HouseEdit, ...] = ()
    unmatched: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing to write: the load sends no request."""
        return not (
            self.compare
            or self.city_adds
            or self.street_adds
            or self.house_adds
            or self.house_edits
        )

    def summary(self) -> dict[str, Any]:
        """The counts of the run report; ``known`` are houses mapped without a write."""
        return {
            "mode": self.mode,
            "known": sum(1 for us_id in self.known.values() if us_id > 0),
            "compare": len(self.compare),
            "city_add": len(self.city_adds),
            "street_add": len(self.street_adds),
            "house_add": len(self.house_adds),
            "house_edit": len(self.house_edits),
            "unmatched": len(self.unmatched) + sum(1 for us_id in self.known.values() if us_id < 1),
            "skipped": len(self.skipped),
        }


# --- IP/MAC bindings (universal-api.md §4.4, userside-api.md §2.5) ---------------------

IP_ACTIONS = ("add_ip", "ip_change_mac", "delete_ip")
IP_LABELS = {"add_ip": "add", "ip_change_mac": "change_mac", "delete_ip": "delete"}


@dataclass(frozen=True)
class IpEdit:
    """``add_ip{N}``/``ip_change_mac{N}``/``delete_ip{N}`` keys of one customer; ``us_id``
    is ``None`` for a customer this run creates. ``previous`` = the view's bindings."""

    billing_uid: str
    us_id: int | None
    fields: dict[str, Any]
    previous: dict[str, Any]

    def audit(self) -> str:
        """One log line: ``uid (#id): add 3232235777,001122aabbcc; delete 167772427``."""
        parts = []
        for action in IP_ACTIONS:
            values = [str(v) for k, v in self.fields.items() if k.rstrip("0123456789") == action]
            if values:
                parts.append(f"{IP_LABELS[action]} {', '.join(values)}")
        target = f"#{self.us_id}" if self.us_id is not None else "new"
        return f"{self.billing_uid} ({target}): " + "; ".join(parts)


@dataclass(frozen=True)
class IpChanges:
    """IP/MAC writes per customer; ``kept`` counts view bindings a flag saved from deletion,
    ``kept_by`` the customers with such bindings and how many each (for the next run's
    :func:`~usm_billing.sync.unchanged.remember`)."""

    edits: tuple[IpEdit, ...] = ()
    kept: int = 0
    kept_by: dict[str, int] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """Nothing to write: the load sends no request."""
        return not self.edits

    def summary(self) -> dict[str, Any]:
        """The counts of the run report, per ``group_edit`` key (``add_ip``, ...)."""
        counts = dict.fromkeys(IP_ACTIONS, 0)
        for edit in self.edits:
            for key in edit.fields:
                counts[key.rstrip("0123456789")] += 1
        return {"customers": len(self.edits), **counts, "kept_by_flags": self.kept}


# --- groups, tags, services (universal-api.md §3.6-3.7, §3.12; contract §4.2-4.3, §7) -

CATALOGUES = ("groups", "tags", "services")


@dataclass(frozen=True)
class CatalogueChangeSet:
    """The three catalogues matched by name: what the billing has (id → name; services
    id → [name, cost]), what to create in UserSide, the service costs to edit, and the
    billing id → UserSide id maps already known. ``enabled`` says, per catalogue, whether
    customers' memberships are synced: only when the billing served a non-empty catalogue
    (§4.4); ``unavailable`` names the catalogue reads that failed (never fatal)."""

    enabled: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(CATALOGUES, False))
    billing_groups: dict[str, str] = field(default_factory=dict)
    billing_tags: dict[str, str] = field(default_factory=dict)
    billing_services: dict[str, list[Any]] = field(default_factory=dict)
    group_creates: tuple[str, ...] = ()
    tag_creates: tuple[str, ...] = ()
    service_adds: tuple[str, ...] = ()
    service_edits: tuple[tuple[int, str], ...] = ()
    group_map: dict[str, int] = field(default_factory=dict)
    tag_map: dict[str, int] = field(default_factory=dict)
    service_map: dict[str, int] = field(default_factory=dict)
    unavailable: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing to write: the load sends no request."""
        return not (
            self.group_creates or self.tag_creates or self.service_adds or self.service_edits
        )

    def summary(self) -> dict[str, Any]:
        """The counts of the run report."""
        return {
            "groups": len(self.billing_groups),
            "tags": len(self.billing_tags),
            "services": len(self.billing_services),
            "group_add": len(self.group_creates),
            "tag_add": len(self.tag_creates),
            "service_add": len(self.service_adds),
            "service_edit": len(self.service_edits),
            "synced": sorted(k for k, on in self.enabled.items() if on),
            "unavailable": list(self.unavailable),
        }


# --- messages (universal-api.md §3.14, contract §5.5) ---------------------------------


@dataclass(frozen=True)
class MessageChanges:
    """The ``msg_add`` requests of a run. ``interval`` is the backfill's data interval
    ``[start, end)`` (unix), or ``None`` for a scheduled or manual run (every message not
    sent yet)."""

    enabled: bool = False
    adds: tuple[MessageAdd, ...] = ()
    interval: tuple[int, int] | None = None
    billing_messages: int = 0
    already_sent: int = 0
    unknown_customer: int = 0

    @property
    def is_empty(self) -> bool:
        """Nothing to write: the load sends no request."""
        return not self.adds

    def summary(self) -> dict[str, Any]:
        """The counts of the run report."""
        return {
            "enabled": self.enabled,
            "billing_messages": self.billing_messages,
            "already_sent": self.already_sent,
            "add": len(self.adds),
            "unknown_customer": self.unknown_customer,
            "interval": list(self.interval) if self.interval is not None else None,
        }
