"""The fixture set of every supported billing (issue 5), and how to serve one.

A set is one or more folders laid out like ``shared/peers/<billing>/``, layered into a
single capture folder for the billing emulator (a later layer's file wins). Real captures
come from ``shared/peers`` (uBilling, AXbills) and are referenced, not copied; what no real
server gave us is composed in ``tests/fixtures/<billing>/`` (see ``tests/fixtures/README.md``
for what each composed file stands for and where its shape comes from).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["BILLING_SETS", "FIXTURES", "BillingSet", "Layer", "billing_set"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

#: The requests the importer makes today, in either dialect.
CORE_REQUESTS = frozenset(
    {"get_system_information", "get_tariff_list", "get_user_state_list", "get_user_list"}
)
#: What the `carbon5` dialect has no equivalent of (spec §4.5, `$billingName`).
NOT_IN_CARBON5 = frozenset({"get_user_tags", "get_user_messages", "get_services_list"})


@dataclass(frozen=True)
class Layer:
    """One folder of a set: ``root`` is ``peers`` (shared captures) or ``fixtures`` (ours)."""

    root: Literal["peers", "fixtures"]
    folder: str
    only: tuple[str, ...] = ()  # file-name prefixes to take; every file when empty


@dataclass(frozen=True)
class BillingSet:
    """A billing as the tests see it: its dialect, its URL form and its fixture folders."""

    name: str
    product: str
    dialect: Literal["standart", "carbon5"]
    base_path: str
    layers: tuple[Layer, ...]
    customers: int
    tariffs: int
    evidence: Literal["real capture", "composed"]
    api_version: str
    #: requests that a run must never send to this billing
    never_requested: frozenset[str] = frozenset()

    @property
    def needs_peers(self) -> bool:
        return any(layer.root == "peers" for layer in self.layers)

    def assemble(self, target: Path, peers: Path | None) -> Path:
        """Symlink the layers' files into ``target`` (created) and return it."""
        target.mkdir(parents=True, exist_ok=True)
        for layer in self.layers:
            if layer.root == "peers":
                if peers is None:
                    msg = f"{self.name}: needs shared/peers/{layer.folder}"
                    raise FileNotFoundError(msg)
                source = peers / layer.folder
            else:
                source = FIXTURES / layer.folder
            for path in sorted(source.iterdir()):
                if not path.is_file() or path.suffix not in (".body", ".headers", ".raw"):
                    continue
                if layer.only and not path.name.startswith(layer.only):
                    continue
                link = target / path.name
                if link.is_symlink() or link.exists():
                    link.unlink()
                os.symlink(path, link)
        return target


_SYSTEM_PROBES = ("get_system_information.", "get_api_information.", "get_supported_method_list.")

BILLING_SETS: tuple[BillingSet, ...] = (
    BillingSet(
        name="ubilling",
        product="uBilling 1.6.4",
        dialect="standart",
        base_path="/?module=remoteapi&action=userside",
        layers=(Layer("peers", "ubilling-1.6.4"),),
        customers=43,
        tariffs=6,
        evidence="real capture",
        api_version="1.5",
    ),
    BillingSet(
        name="ubilling-20k",
        product="uBilling 1.6.4",
        dialect="standart",
        base_path="/?module=remoteapi&action=userside",
        # the 20k capture recorded the lists only; the probes come from the same build
        layers=(
            Layer("peers", "ubilling-1.6.4-20k"),
            Layer("peers", "ubilling-1.6.4", only=_SYSTEM_PROBES),
        ),
        customers=20000,
        tariffs=7,
        evidence="real capture",
        api_version="1.5",
    ),
    BillingSet(
        name="axbills",
        product="AXbills 2026.08 (ABillS fork)",
        dialect="standart",
        base_path="/admin/index.cgi?get_index=us_api&cat=module",
        layers=(Layer("peers", "axbills-2026.08"), Layer("fixtures", "axbills")),
        customers=3,
        tariffs=3,
        evidence="real capture",
        api_version="",
    ),
    BillingSet(
        name="carbon5",
        product="Carbon Billing 5",
        dialect="carbon5",
        base_path="/",
        layers=(Layer("fixtures", "carbon5"),),
        customers=5,
        tariffs=3,
        evidence="composed",
        api_version="1.2",
        never_requested=NOT_IN_CARBON5,
    ),
    BillingSet(
        name="mikbill",
        product="MikBill",
        dialect="standart",
        base_path="/api/index/userside",
        layers=(Layer("fixtures", "mikbill"),),
        customers=4,
        tariffs=3,
        evidence="composed",
        api_version="1.2",
    ),
    BillingSet(
        name="platex",
        product="Platex",
        dialect="standart",
        base_path="/",
        layers=(Layer("fixtures", "platex"),),
        customers=4,
        tariffs=3,
        evidence="composed",
        api_version="1.4",
    ),
)


def billing_set(name: str) -> BillingSet:
    """The set called ``name``."""
    [found] = [s for s in BILLING_SETS if s.name == name]
    return found
