"""The one write policy of every load: batches, what a failed batch does, which errors
are a failed record, progress.

A batch that fails (refused, or no reply after the hook's own retries) may still have been
applied in part or in full: UserSide applies the other customers of a refused request and
a lost reply may follow a full apply (contract §11). Re-sending its additive keys
(``add_tariff_id``, ``service`` 1, ``add_ip``) blindly would double links or be refused,
so the load's ``recover`` callback re-reads exactly the records of the failed batches and
re-diffs them; only what still differs is sent again, one record per request. A record
whose own request fails is reported with UserSide's (redacted) reason and the others go on.

The circuit breaker: a UserSide that keeps failing must not get one request per record
of a large load. :data:`BREAKER_FAILURES` write requests in a row without a reply (after
the hook's own retries: outage, timeout, 5xx) stop the load with a
:class:`OutageError` naming the count and the last cause; the task fails fast and
Airflow's retry (or the next run) re-reads and re-diffs everything. A refusal is no
outage (UserSide answered; one bad record must not stop the others) and, like a success,
closes the breaker again.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from usm_billing.exceptions import ApiError, FatalApiError, OutageError
from usm_billing.tasks.results import Failure, LoadResult

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence

    from usm_billing.userside.hook import UserSideHook

__all__ = ["BREAKER_FAILURES", "Writes", "chunks"]

log = logging.getLogger(__name__)
PROGRESS_SECONDS = 10.0  # at most one progress line per this many seconds
# write requests in a row without a reply that stop the load (the circuit breaker); at a
# 30 % fault rate, ten in a row happen about once in 170,000 requests
BREAKER_FAILURES = 10
RESEND_ROUNDS = 2  # re-batched rounds for the records of batches left without a reply

T = TypeVar("T")
K = TypeVar("K")


def chunks(items: Iterable[K], size: int) -> Iterator[list[K]]:
    """``items`` in lists of at most ``size``, in order."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class Writes:
    """The writes of one load: counts the requests it sends (by the hook's own counter),
    collects the records that failed, logs progress."""

    def __init__(self, entity: str, userside: UserSideHook, *, dry_run: bool) -> None:
        self.entity = entity
        self.userside = userside
        self.dry_run = dry_run
        self.failed: list[Failure] = []
        self._before = userside.writes_sent
        self._started = time.monotonic()
        self._logged = self._started
        self._outages = 0  # write requests in a row without a reply

    @property
    def write_requests(self) -> int:
        """The write requests this load sent, by the UserSide hook's counter (the
        lifecycle calls are not counted)."""
        return self.userside.writes_sent - self._before

    def fail(self, record: str, error: Exception | str) -> None:
        """Report ``record`` as failed; the load goes on with the others."""
        self.failed.append(Failure(record, str(error)))

    def attempt(
        self, record: str, call: Callable[[], T], *, outage_fails_task: bool = False
    ) -> T | None:
        """One write request. Refused: the record fails, ``None``. No reply after the
        hook's retries: the record fails too, unless ``outage_fails_task`` (a load that
        keeps its own progress, such as messages, stops for Airflow to retry it)."""
        try:
            return self._watched(call)
        except OutageError:
            raise
        except FatalApiError as err:
            self.fail(record, err)
        except ApiError as err:
            if outage_fails_task:
                raise
            self.fail(record, err)
        return None

    def _watched(self, call: Callable[[], T]) -> T:
        """``call()`` through the circuit breaker: a reply (or a refusal) closes it, the
        :data:`BREAKER_FAILURES`-th outage in a row stops the load with the cause."""
        try:
            result = call()
        except FatalApiError:
            self._outages = 0
            raise
        except ApiError as err:
            self._outages += 1
            if self._outages >= BREAKER_FAILURES:
                msg = (
                    f"{self.entity}: {self._outages} write requests in a row got no reply, "
                    f"the last: {err}; stopped here instead of trying every record (the "
                    "retry or the next run re-reads what was written)"
                )
                raise OutageError(msg) from err
            raise
        self._outages = 0
        return result

    def batched(
        self,
        batches: Iterable[Sequence[K]],
        send: Callable[[Sequence[K]], object],
        *,
        recover: Callable[[list[K]], Iterable[K]],
        record: Callable[[K], str],
        total: int,
        lane: Callable[[K], Hashable] | None = None,
        send_one: Callable[[K], object] | None = None,
    ) -> None:
        """Send every batch; the items of all the batches that failed in a round go to
        ``recover`` together (one re-read and re-diff a round, not one per failed batch),
        and what it returns is sent again in the next round. Of a refused batch, in
        halves (a refused half is halved again), down to one item per request
        (``send_one``, by default a batch of one): that finds the records UserSide
        refuses in a few requests, not one per record. Of a batch left without a reply,
        in batches of the same size (:data:`RESEND_ROUNDS` more times, then one by one):
        an outage says nothing about the records, and one request per record would
        multiply the requests exactly when UserSide struggles. ``lane`` names the items
        that may share a request (by default all): a re-sent batch holds one lane only,
        and an item is matched to its failed batch by record and lane."""
        lane_of: Callable[[K], Hashable] = lane or (lambda _: None)
        pending = [(list(batch), RESEND_ROUNDS) for batch in batches]
        single: list[K] = []
        while pending:
            # (record, lane) -> (refused, size of its failed batch, resend rounds left)
            failed: dict[tuple[str, Hashable], tuple[bool, int, int]] = {}
            items: list[K] = []
            done = 0
            for batch, rounds in pending:
                try:
                    self._watched(partial(send, batch))
                except OutageError:
                    raise
                except ApiError as err:
                    log.warning(
                        "%s: a batch of %d failed (%s); re-reading them",
                        self.entity,
                        len(batch),
                        err,
                    )
                    state = (isinstance(err, FatalApiError), len(batch), rounds)
                    failed.update({(record(i), lane_of(i)): state for i in batch})
                    items.extend(batch)
                done += len(batch)
                self.progress(done, total)
            pending = []
            if not items:
                break
            again: dict[tuple[Hashable, bool, int, int], list[K]] = {}
            for item in recover(items):
                refused, size, rounds = failed.get((record(item), lane_of(item)), (False, 1, 0))
                again.setdefault((lane_of(item), refused, size, rounds), []).append(item)
            for (_, refused, size, rounds), group in sorted(
                again.items(), key=lambda kv: not kv[0][1]
            ):
                if refused and size > 2:  # halves of two or more records
                    pending.extend((c, rounds) for c in chunks(group, -(-size // 2)))
                elif not refused and rounds > 0:
                    pending.extend((c, rounds - 1) for c in chunks(group, size))
                else:
                    single.extend(group)
            total = sum(len(batch) for batch, _ in pending)
        one: Callable[[K], object] = send_one or (lambda item: send([item]))
        for item in single:
            self.attempt(record(item), partial(one, item))

    def progress(self, done: int, total: int) -> None:
        """Log progress at most every :data:`PROGRESS_SECONDS`, and once at the end of a
        load that took longer than a second."""
        now = time.monotonic()
        if now - self._logged >= PROGRESS_SECONDS or (done >= total and now - self._started > 1):
            self._logged = now
            log.info(
                "%s: %s/%s written, %.0f s",
                self.entity,
                f"{done:,}",
                f"{total:,}",
                now - self._started,
            )

    def result(self, counts: dict[str, Any], **detail: Any) -> LoadResult:
        """The load's result: ``counts`` from the change set, the requests sent and the
        failed records."""
        return LoadResult(
            entity=self.entity,
            counts=counts,
            dry_run=self.dry_run,
            write_requests=self.write_requests,
            failed=tuple(self.failed),
            detail=detail,
        )
