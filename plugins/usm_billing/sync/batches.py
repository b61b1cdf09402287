"""How customer ``group_edit`` writes are cut into requests (userside-api.md §1.4, contract §5.3).

"Typical" fields (balance, traffic, activity) go first, one field per request with
``src=billing``, up to ``typical_batch_size`` customers; the remaining fields of up to
``batch_size`` customers go together. A customer left with only ``crc_billing`` is not
sent. Unlike the PHP module, no customer is skipped at a batch boundary (§8 N7).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from usm_billing.sync.customer_fields import TYPICAL_FIELDS

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

__all__ = ["GroupEditRequest", "plan_group_edit"]


@dataclass(frozen=True)
class GroupEditRequest:
    """One ``cat=customer&action=group_edit`` request."""

    data: dict[int, dict[str, Any]]  # UserSide customer id -> fields
    src_billing: bool


def _chunks(
    items: Iterable[tuple[int, dict[str, Any]]], size: int
) -> Iterator[dict[int, dict[str, Any]]]:
    iterator = iter(items)
    while chunk := dict(islice(iterator, size)):
        yield chunk


def plan_group_edit(
    edits: Mapping[int, Mapping[str, Any]], *, batch_size: int, typical_batch_size: int
) -> list[GroupEditRequest]:
    """Requests for ``{UserSide customer id: fields}``, in a deterministic order."""
    requests: list[GroupEditRequest] = []
    ordered = sorted(edits.items())
    for key in TYPICAL_FIELDS:
        rows = [(us_id, {key: fields[key]}) for us_id, fields in ordered if key in fields]
        requests.extend(
            GroupEditRequest(chunk, True) for chunk in _chunks(rows, typical_batch_size)
        )
    rest = []
    for us_id, fields in ordered:
        other = {k: v for k, v in fields.items() if k not in TYPICAL_FIELDS}
        if set(other) - {"crc_billing"}:
            rest.append((us_id, other))
    requests.extend(GroupEditRequest(chunk, False) for chunk in _chunks(rest, batch_size))
    return requests
