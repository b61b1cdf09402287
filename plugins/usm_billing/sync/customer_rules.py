"""What decides a customer's fields besides the two records, and what one step of them
writes (universal-api.md §4.4–4.5, contract §5.2).

:class:`CustomerRules` gathers UserSide's settings, the config flags and the maps the
earlier steps leave (houses, catalogues, parent ids, the billing's tariff ids) once per
run; :class:`CustomerStep` is what the field rules of
:mod:`usm_billing.sync.customer_fields` return for one customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from usm_billing.config import BillingConfig
from usm_billing.passwords import PasswordBox

if TYPE_CHECKING:
    from collections.abc import Iterable

    from usm_billing.userside.models import UsSettings

__all__ = ["CustomerRules", "CustomerStep"]


@dataclass(frozen=True)
class CustomerRules:
    """Everything besides the two records that decides a customer's fields."""

    config: BillingConfig
    functional_by_state: Mapping[str, str]
    traffic_due: bool
    activity_as_unix: bool
    # addresses (§4.4): only with UserSide's is_update_address=1; billing house id → US id
    update_address: bool = False
    house_map: Mapping[str, int] = field(default_factory=dict)
    # groups, tags, services (§4.4): synced only when the billing's catalogue is non-empty;
    # billing id → UserSide id, matched by name (sync/catalogues.py)
    groups_on: bool = False
    group_map: Mapping[str, int] = field(default_factory=dict)
    tags_on: bool = False
    tag_map: Mapping[str, int] = field(default_factory=dict)
    services_on: bool = False
    service_map: Mapping[str, int] = field(default_factory=dict)
    # billing customer id → UserSide id of the view (a child's parent_id)
    customer_ids: Mapping[str, int] = field(default_factory=dict)
    # passwords (§4.5): opened and digested only here, sent sealed (usm_billing.passwords)
    passwords: PasswordBox | None = None
    encode_password: bool = False
    # the ids of the billing's own get_tariff_list; a customer's tariff not among them is
    # left alone (contract §11). None: every id is taken as known.
    tariff_ids: frozenset[str] | None = None

    @classmethod
    def build(
        cls,
        config: BillingConfig,
        settings: UsSettings,
        functional_by_state: Mapping[str, str],
        *,
        now_unix: int,
        house_map: Mapping[str, int] | None = None,
        catalogues: Mapping[str, Any] | None = None,
        customer_ids: Mapping[str, int] | None = None,
        passwords: PasswordBox | None = None,
        tariff_ids: Iterable[str] | None = None,
    ) -> CustomerRules:
        """Traffic is written only when UserSide enables it and its interval has elapsed;
        address fields only when UserSide's ``is_update_address=1``; groups, tags and
        services only with ``catalogues`` (the catalogue load's result) saying so; tariff
        links only for ids in ``tariff_ids`` (the billing's ``get_tariff_list`` keys) when
        given."""
        last = settings.date_traffic_update
        due = bool(settings.is_update_traffic) and (
            last == 0 or now_unix - last >= max(settings.date_traffic_update_interval, 0) * 60
        )
        catalogues = catalogues or {}
        enabled = catalogues.get("enabled") or {}
        return cls(
            config=config,
            functional_by_state=functional_by_state,
            traffic_due=due,
            activity_as_unix=bool(settings.is_customer_activity_timestamp),
            update_address=bool(settings.is_update_address),
            house_map=dict(house_map or {}),
            groups_on=bool(enabled.get("groups")),
            group_map=dict(catalogues.get("group_map") or {}),
            tags_on=bool(enabled.get("tags")),
            tag_map=dict(catalogues.get("tag_map") or {}),
            services_on=bool(enabled.get("services")),
            service_map=dict(catalogues.get("service_map") or {}),
            customer_ids=dict(customer_ids or {}),
            passwords=passwords,
            encode_password=bool(settings.is_encode_customer_password),
            tariff_ids=None if tariff_ids is None else frozenset(str(t) for t in tariff_ids),
        )


class CustomerStep(NamedTuple):
    """One customer's write: its fields, whether it is one step of several (``again``,
    see :class:`~usm_billing.sync.changes.CustomerEdit`) and the tariff ids the billing's
    tariff list lacks (left alone)."""

    fields: dict[str, Any]
    again: bool
    unknown_tariffs: tuple[str, ...]
