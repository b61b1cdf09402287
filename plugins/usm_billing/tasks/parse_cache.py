"""Each side's customers as the last run read them (``parsed-billing.json``,
``parsed-userside.json`` in the billing's state folder): a row the billing or UserSide
sends again byte for byte (the same keyed digest) is the record decoded from there
instead of parsed again, which is most of a converged run's reading at 100,000 customers.

Every entry of the file is decoded into its record before the side's list is fetched, so
the file's bytes (85 MB at 100,000 customers) are freed before the list's body (121 MB)
arrives instead of being held beside it; the record of a row that changed is parsed
anew and replaces the cached one.

The records are the ones the extract hands the other steps (sealed passwords, password
digests: nothing a run folder does not hold already). It is a cache: a missing,
unreadable or foreign file, or one written by other parsing code or under other password
keys or flags (:func:`parse_context`), or one with an entry that is not a record of the
side's type, only means every row is parsed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from usm_billing import codec
from usm_billing.state_store import StateFile
from usm_billing.universal_api.payload import gc_paused
from usm_billing.userside.customers import UsCustomer

if TYPE_CHECKING:
    from collections.abc import Mapping

    from usm_billing.passwords import PasswordBox
    from usm_billing.tasks.context import RunContext

__all__ = ["ParseCache", "ParsedRows", "parse_context", "read_view"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# the code that turns a row into a record: another version of it parses differently
_PARSERS = (
    "codec.py",
    "passwords.py",
    "universal_api/customer_fields.py",
    "universal_api/customers.py",
    "universal_api/fields.py",
    "universal_api/payload.py",
    "userside/customers.py",
    "userside/models.py",
)


@cache
def _code_digest() -> str:
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in _PARSERS:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()


def parse_context(passwords: PasswordBox | None, *flags: Any) -> str:
    """What a cached record depends on besides its row: the parsing code, the password
    key (its records hold sealed passwords and keyed digests) and the extract's flags."""
    box = "" if passwords is None else passwords.digest("usm_billing parse cache")
    return hashlib.sha256(repr((_code_digest(), box, flags)).encode()).hexdigest()


@dataclass(frozen=True)
class ParsedRows:
    """The cache document: its :func:`parse_context` and, by customer id, the digest of
    the row and the record's codec JSON (decoded only once the context is this run's)."""

    context: str = ""
    rows: dict[str, tuple[str, msgspec.Raw]] = field(default_factory=dict)


class ParseCache(Generic[T]):
    """The cached records (of type ``kind``) of one side (``billing``, ``userside``) of
    this billing."""

    def __init__(
        self,
        ctx: RunContext,
        side: str,
        context: str,
        kind: type[T],
        *,
        userside: str | None = None,
    ) -> None:
        self.side = side
        self.context = context
        self.kind = kind
        self.file = StateFile(ctx.config, f"parsed-{side}.json", "parsed", userside=userside)
        self._held: dict[str, str] | None = None  # the file's row digests, once loaded

    def load(self) -> dict[str, tuple[str, T]]:
        """The cached records with their row digests, or none when the cache cannot be
        used."""
        try:
            with gc_paused():  # millions of small acyclic objects (universal_api.payload)
                document = self.file.read(ParsedRows)
                if document is None or document.context != self.context:
                    return {}
                rows = {
                    uid: (row_digest, _record(record, self.kind, uid))
                    for uid, (row_digest, record) in document.rows.items()
                }
        except ValueError as err:  # the file, or one entry: a cache, so parse everything
            log.warning("Parse cache of %s: %s; every row is parsed", self.side, err)
            return {}
        self._held = {uid: row_digest for uid, (row_digest, _) in rows.items()}
        return rows

    def save(self, records: Mapping[str, Any], digests: Mapping[str, str]) -> None:
        """Keep every record whose row has a digest, for the next run. A file that already
        holds exactly these rows under this context is left as it is: a record is a pure
        function of its row's bytes and the context, so it would be written again
        unchanged (100 MB at 100,000 customers, in a run that changed nothing)."""
        held = {uid: digests[uid] for uid in records if uid in digests}
        if held == self._held:
            return
        rows = {uid: (row_digest, records[uid]) for uid, row_digest in held.items()}
        self.file.write({"context": self.context, "rows": rows})
        self._held = held


def _record(raw: msgspec.Raw, kind: type[T], uid: str) -> T:
    try:
        return codec.decode(raw, kind)
    except ValueError as err:
        msg = f"the entry of customer {uid} is {err}"
        raise ValueError(msg) from None


def read_view(ctx: RunContext) -> tuple[dict[str, UsCustomer], dict[str, str]]:
    """UserSide's whole view of this billing and its row digests, through the cache (and
    the cache renewed): the extract reads it so, and so does a load that re-reads many
    customers at once."""
    config, userside = ctx.config, ctx.userside
    load_password = config.import_password_to_us_password
    context = parse_context(ctx.passwords, "userside", load_password)
    cache = ParseCache(ctx, "userside", context, UsCustomer, userside=userside.identity)
    customers, digests = userside.get_view(
        config.billing_id,
        passwords=ctx.passwords,
        load_password=load_password,
        cached=cache.load(),
    )
    cache.save(customers, digests)
    return customers, digests
