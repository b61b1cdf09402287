"""IP/MAC bindings: billing ``ip_mac`` vs the view's ``ip_mac`` (universal-api.md §3.13
``ip_mac`` entry, §4.4 IP/MAC, §4.5 flags; userside-api.md §2.5 ``add_ip{N}``,
``ip_change_mac{N}``, ``delete_ip{N}``; contract §3, §5.2, §8 N12).

A binding is ``IP integer → MAC``. The billing sends IPs as inet_aton integers (a number or
a numeric string; a dotted quad is accepted too); an entry without an IP is a MAC-only
binding, keyed ``-1`` as UserSide keys it. ``local_ip`` adds a second binding with the
same MAC. The optional gray→white mirror adds, for each IP of ``ip_gray_net``, the IP at
the same offset in ``ip_white_net``.

Deliberate differences from the PHP module (documented in README.md):

* MACs are normalised to 12 lowercase hex digits, accepting ``:``, ``-`` and ``.``
  separators and upper case (the PHP module only lowercases, so a MAC with separators
  had length ≠ 12 and was dropped);
* an entry with neither an IP nor a usable MAC binds nothing (the PHP module added an
  empty ``-1,`` binding);
* several MAC-only entries: the first one with a MAC is kept, so ``ip_change_mac`` does
  not flip-flop between them every run (contract §8 N12);
* ``skip_delete_ip`` ranges are honoured also for a customer whose billing record has no
  ``ip_mac`` at all (the PHP module did not consult them there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from usm_billing.iprange import parse_ip, parse_net, split_ranges
from usm_billing.sync.changes import IpChanges, IpEdit

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from usm_billing.config import BillingConfig
    from usm_billing.universal_api.customers import BillingCustomer
    from usm_billing.userside.customers import UsCustomer
    from usm_billing.userside.models import UsSettings

__all__ = [
    "MAC_ONLY",
    "IpRules",
    "billing_bindings",
    "diff_ips",
    "ip_fields",
    "normalise_mac",
]

MAC_ONLY = -1

_MAC_SEPARATORS = re.compile(r"[\s:.\-]")
_MAC = re.compile(r"^[0-9a-f]{12}$")


def normalise_mac(value: Any) -> str:
    """12 lowercase hex digits, or ``""`` when ``value`` is not a MAC (spec §3.13, §4.6.7).

    ``:``, ``-``, ``.`` and white space are dropped and upper case lowered before the check.
    """
    if value is None or isinstance(value, (bool, dict, list)):
        return ""
    text = _MAC_SEPARATORS.sub("", str(value)).lower()
    return text if _MAC.match(text) else ""


@dataclass(frozen=True)
class IpRules:
    """The flags of universal-api.md §4.4–4.5 that decide a customer's IP/MAC writes."""

    update_mac: bool = False
    skip_delete_empty_ip: bool = False
    force_delete_empty_ip: bool = False
    skip_ranges: tuple[tuple[int, int], ...] = ()
    gray: tuple[int, int] | None = None
    white: tuple[int, int] | None = None

    @classmethod
    def build(cls, config: BillingConfig, settings: UsSettings) -> IpRules:
        """The rules of one run; the gray/white mirror applies only when both nets are
        configured."""
        mirror = bool(config.ip_gray_net and config.ip_white_net)
        return cls(
            update_mac=bool(settings.is_update_mac),
            skip_delete_empty_ip=config.skip_delete_empty_ip,
            force_delete_empty_ip=config.force_delete_empty_ip,
            skip_ranges=split_ranges(config.skip_delete_ip),
            gray=parse_net(config.ip_gray_net) if mirror else None,
            white=parse_net(config.ip_white_net) if mirror else None,
        )

    def protected(self, ip: int) -> bool:
        """True when ``ip`` lies in a ``skip_delete_ip`` range."""
        return ip > 0 and any(first <= ip <= last for first, last in self.skip_ranges)

    def mirror(self, ip: int) -> int:
        """The white IP at the gray IP's offset, or 0 (outside the gray net or the white one)."""
        if self.gray is None or self.white is None or ip <= 0:
            return 0
        offset = ip - self.gray[0]
        if 0 <= offset < self.gray[1] and offset < self.white[1]:
            return self.white[0] + offset
        return 0


def _bind(bindings: dict[int, str], ip: int, mac: str) -> None:
    """First binding of an IP wins; a later one only fills a missing MAC."""
    if ip not in bindings or (not bindings[ip] and mac):
        bindings[ip] = mac


def billing_bindings(entries: Iterable[tuple[Any, Any, Any]], rules: IpRules) -> dict[int, str]:
    """``{IP integer (or -1): MAC}`` of the billing record's ``ip_mac`` entries
    ``(ip, mac, local_ip)`` (spec §3.13 ``ip_mac`` entry, §4.4 gray→white mirror)."""
    bindings: dict[int, str] = {}
    for raw_ip, raw_mac, raw_local in entries:
        mac = normalise_mac(raw_mac)
        ip = parse_ip(raw_ip) or MAC_ONLY
        if ip == MAC_ONLY and not mac:
            continue
        _bind(bindings, ip, mac)
        local = parse_ip(raw_local)
        if local:
            _bind(bindings, local, mac)
    for ip, mac in list(bindings.items()):
        white = rules.mirror(ip)
        if white:
            _bind(bindings, white, mac)
    return bindings


def view_bindings(view: UsCustomer) -> dict[int, Any]:
    """The view's ``{IP key: MAC}``."""
    return dict(view.ip_mac)


def ip_fields(
    entries: tuple[tuple[Any, Any, Any], ...] | None,
    current: Mapping[int, Any],
    rules: IpRules,
) -> tuple[dict[str, Any], int]:
    """(``group_edit`` IP keys, number of view bindings kept only by a flag).

    ``entries`` is ``None`` when the billing record has no ``ip_mac`` at all. Keys are
    numbered from 1 within the customer entry, each kind on its own counter
    (``add_ip1``, ``add_ip2``, …, ``ip_change_mac1``, …, ``delete_ip1``, …; contract §11:
    ``add_ip0`` is never sent by the module and a UserSide may ignore or refuse it).
    """
    billing = {} if entries is None else billing_bindings(entries, rules)
    fields: dict[str, Any] = {}
    adds = [ip for ip in sorted(billing) if ip not in current]
    for n, ip in enumerate(adds, start=1):
        fields[f"add_ip{n}"] = f"{ip},{billing[ip]}"
    if rules.update_mac:
        changes = [
            ip
            for ip in sorted(billing)
            if ip in current and billing[ip] and billing[ip] != _text(current[ip])
        ]
        for n, ip in enumerate(changes, start=1):
            fields[f"ip_change_mac{n}"] = f"{ip},{billing[ip]}"
    kept = 0
    deletes = []
    for ip in sorted(current):
        if ip in billing:
            continue
        if _keep(ip, has_ip_mac=entries is not None, rules=rules):
            kept += 1
        else:
            deletes.append(ip)
    for n, ip in enumerate(deletes, start=1):
        fields[f"delete_ip{n}"] = ip
    return fields, kept


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _keep(ip: int, *, has_ip_mac: bool, rules: IpRules) -> bool:
    """A view binding absent from the billing survives (spec §4.4, §4.5)."""
    if rules.protected(ip):
        return True
    if not has_ip_mac:
        return rules.skip_delete_empty_ip
    return ip <= 0 and rules.skip_delete_empty_ip and not rules.force_delete_empty_ip


def diff_ips(
    billing: Mapping[str, BillingCustomer],
    userside: Mapping[str, UsCustomer],
    rules: IpRules,
    *,
    only: str | None = None,
    unchanged: Mapping[str, int] | None = None,
) -> IpChanges:
    """IP/MAC writes of every billing customer (``only``: one billing customer id).

    A customer this run creates has no binding yet; its edit carries ``us_id=None``.
    Customers gone from the billing keep their bindings (they are only flagged).
    ``unchanged`` (:func:`~usm_billing.sync.unchanged.skippable`) names customers known to
    need nothing, with the bindings a flag keeps for each: they are counted, not diffed.
    """
    edits: list[IpEdit] = []
    kept_by: dict[str, int] = {}
    skip = unchanged or {}
    for uid in sorted(billing) if only is None else [only] if only in billing else []:
        if uid in skip:
            kept = skip[uid]
        else:
            view = userside.get(uid)
            current = {} if view is None else view_bindings(view)
            fields, kept = ip_fields(billing[uid].ip_mac, current, rules)
            if fields:
                previous = {str(ip): current[ip] for ip in sorted(current)}
                edits.append(IpEdit(uid, None if view is None else view.us_id, fields, previous))
        if kept:
            kept_by[uid] = kept
    return IpChanges(tuple(edits), sum(kept_by.values()), kept_by)
