"""Groups, tags and services: catalogues matched by name (universal-api.md §3.6–3.7,
§3.12; contract §4.2–§4.3, §5.5, §7).

UserSide keeps its own ids; the billing's ids are mapped through the names. A billing
entry whose name UserSide does not know is created (``add_group``, ``add_tag``,
``service add``); a service whose cost differs gets ``service edit``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from usm_billing.sync.normalize import loose_equal

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "CatalogueChanges",
    "ServiceEdit",
    "diff_catalogue",
    "diff_services",
    "group_key",
    "group_name",
    "service_key",
    "service_name",
    "tag_key",
]


def group_name(name: str) -> str:
    """The name ``add_group`` sends: trimmed, ``+`` → ``&#43;`` (contract §5.5)."""
    return name.strip().replace("+", "&#43;")


def group_key(name: str) -> str:
    """Groups match after trimming and with ``/``, ``'``, ``+`` in entity form on both sides."""
    return group_name(name).replace("/", "&#047;").replace("'", "&#039;")


def tag_key(name: str) -> str:
    """Tags match by exact name (no trimming, no escaping; contract §4.3)."""
    return name


def service_name(name: str) -> str:
    """The name ``service add`` sends: ``/`` → ``&#047;`` (contract §7)."""
    return name.replace("/", "&#047;")


def service_key(name: str) -> str:
    """UserSide keys its service catalogue by md5 of the stored name (contract §4.2)."""
    return hashlib.md5(service_name(name).encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class CatalogueChanges:
    """Names to create, and the billing id → UserSide id map of those already matched."""

    create: tuple[str, ...]
    matched: dict[str, int]


def diff_catalogue(
    billing: Mapping[str, str],
    userside: Mapping[int, str],
    *,
    key: Any,
    name: Any = str,
) -> CatalogueChanges:
    """``billing`` = billing id → name, ``userside`` = UserSide id → name.

    ``key`` turns a name into its comparison form, ``name`` into the form sent on create.
    """
    by_key: dict[str, int] = {}
    for us_id, us_name in sorted(userside.items()):
        by_key.setdefault(key(us_name), us_id)
    matched: dict[str, int] = {}
    create: list[str] = []
    for billing_id, billing_name in sorted(billing.items()):
        found = by_key.get(key(billing_name))
        if found is not None:
            matched[billing_id] = found
        elif name(billing_name) not in create and billing_name.strip():
            create.append(name(billing_name))
    return CatalogueChanges(tuple(create), matched)


@dataclass(frozen=True)
class ServiceEdit:
    """A service's new cost: the billing's, as a decimal with a point (``12,50`` → ``12.50``)."""

    us_id: int
    cost: str


def _cost(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        return None


def diff_services(
    billing: Mapping[str, tuple[str, Any]],
    userside: Mapping[str, tuple[int, Any]],
) -> tuple[tuple[str, ...], tuple[ServiceEdit, ...], dict[str, int]]:
    """Services to add (names), cost edits, and billing service id → UserSide id.

    ``billing`` = billing id → (name, cost); ``userside`` = md5 key → (UserSide id, cost).
    """
    add: list[str] = []
    edits: list[ServiceEdit] = []
    matched: dict[str, int] = {}
    for billing_id, (name, cost) in sorted(billing.items()):
        row = userside.get(service_key(name))
        if row is None:
            if service_name(name) not in add:
                add.append(service_name(name))
            continue
        us_id, us_cost = row
        matched[billing_id] = us_id
        wanted = _cost(cost)
        if wanted is not None and not loose_equal(str(wanted), us_cost):
            edits.append(ServiceEdit(us_id, str(wanted)))
    return tuple(add), tuple(edits), matched
