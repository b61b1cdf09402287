"""Which one mechanism serialises the typed state: pydantic ``TypeAdapter`` or msgspec?

Measured on the real typed records of a generated billing (default 100,000 customers):
the billing customers (``dict[str, BillingCustomer]``) and a customer change set of every
customer (``CustomerChanges``, the first import's size). Each candidate encodes to JSON
bytes and decodes back to the typed objects; the round trip must give equal objects.
Reported: seconds per encode and decode (best of 3) and the peak traced memory of each.

``python benchmarks/codec.py [N]``; results are written to ``benchmarks/results/codec.json``.
"""

from __future__ import annotations

import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

import msgspec  # noqa: E402
from pydantic import TypeAdapter  # noqa: E402

from emulators.billing.generator import generate  # noqa: E402
from usm_billing.sync.changes import CustomerChanges, CustomerEdit  # noqa: E402
from usm_billing.universal_api.customers import (  # noqa: E402
    BillingCustomer,
    customer_records,
    parse_customer,
)

if TYPE_CHECKING:
    from collections.abc import Callable


def _customers(count: int) -> dict[str, BillingCustomer]:
    payload: Any = generate(count, seed=1)["get_user_list"]
    out: dict[str, BillingCustomer] = {}
    for row_key, row in payload.items():
        for key, raw, parent in customer_records(row_key, row, keep_child_id=False):
            customer = parse_customer(key, raw, parent=parent)
            out[customer.id] = customer
    return out


def _changes(customers: dict[str, BillingCustomer]) -> CustomerChanges:
    edits = tuple(
        CustomerEdit(
            billing_uid=c.id,
            us_id=None,
            fields={"name": c.full_name, "login": c.login, "add_tariff_id": list(c.tariff_current)},
            previous={"name": "_ run billing module again _"},
        )
        for c in customers.values()
    )
    return CustomerChanges(creates=tuple(customers), edits=edits)


def _best(fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(3):
        gc.collect()
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def _peak(fn: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def measure(name: str, value: Any, kind: Any) -> dict[str, dict[str, float]]:
    adapter = TypeAdapter(kind)
    decoder = msgspec.json.Decoder(kind)
    encoder = msgspec.json.Encoder()
    candidates = {
        "pydantic": (adapter.dump_json, adapter.validate_json),
        "msgspec": (encoder.encode, decoder.decode),
    }
    results: dict[str, dict[str, float]] = {}
    for label, (encode, decode) in candidates.items():
        encode_s, blob = _best(lambda e=encode: e(value))
        decode_s, back = _best(lambda d=decode, b=blob: d(b))
        if back != value:
            msg = f"{label} does not round-trip {name}"
            raise AssertionError(msg)
        results[label] = {
            "encode_s": round(encode_s, 3),
            "decode_s": round(decode_s, 3),
            "bytes": len(blob),
            "encode_peak_mib": round(_peak(lambda e=encode: e(value)) / 2**20, 1),
            "decode_peak_mib": round(_peak(lambda d=decode, b=blob: d(b)) / 2**20, 1),
        }
        print(f"{name:>20} {label:>8}: {results[label]}", flush=True)
    return results


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    customers = _customers(count)
    report = {
        "customers": len(customers),
        "billing_customers": measure("billing customers", customers, dict[str, BillingCustomer]),
        "customer_changes": measure("customer changes", _changes(customers), CustomerChanges),
    }
    out = REPO / "benchmarks" / "results" / "codec.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
