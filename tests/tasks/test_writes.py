"""The one write policy (issue 11 item 7): a UserSide that keeps failing stops a load after
a bounded number of unanswered requests in a row (the circuit breaker), with the cause; a
refusal is no outage; the records of a batch left without a reply are re-sent in batches,
those of a refused batch one by one."""

from __future__ import annotations

import pytest

from usm_billing.exceptions import FatalApiError, OutageError, RetriableApiError
from usm_billing.tasks.writes import BREAKER_FAILURES, Writes


class Hook:
    writes_sent = 0


def down(*_args) -> None:
    msg = "UserSide `u` cat=customer&action=group_edit: HTTP 503"
    raise RetriableApiError(msg)


def test_attempts_stop_after_bounded_outages_with_the_cause() -> None:
    writes, calls = Writes("customers", Hook(), dry_run=False), []

    def every_record() -> None:
        for n in range(50):
            writes.attempt(f"customer {n}", lambda n=n: (calls.append(n), down())[1])

    with pytest.raises(OutageError) as caught:
        every_record()
    assert len(calls) == BREAKER_FAILURES
    assert f"{BREAKER_FAILURES} write requests in a row got no reply" in str(caught.value)
    assert "HTTP 503" in str(caught.value)
    assert isinstance(caught.value, RetriableApiError)  # Airflow's retry may try later


def test_batches_stop_after_bounded_outages_without_one_by_one_retries() -> None:
    writes, sent = Writes("customers", Hook(), dry_run=False), []

    def send(batch) -> None:
        sent.append(list(batch))
        down()

    with pytest.raises(OutageError):
        writes.batched(
            [[n, n + 1] for n in range(0, 100, 2)],
            send,
            recover=lambda items: items,
            record=str,
            total=100,
        )
    assert len(sent) == BREAKER_FAILURES


def test_refusals_are_no_outage_and_close_the_breaker() -> None:
    writes = Writes("customers", Hook(), dry_run=False)

    def refused() -> None:
        msg = "UserSide `u` group_edit: refused"
        raise FatalApiError(msg)

    for n in range(3 * BREAKER_FAILURES):
        writes.attempt(f"customer {n}", down if n % 2 else refused)
    assert len(writes.failed) == 3 * BREAKER_FAILURES


def test_lost_batch_is_resent_in_batches_a_refused_one_in_halves() -> None:
    """Record 5 is always refused: halving finds it; the others are written."""
    writes, sent = Writes("customers", Hook(), dry_run=False), []
    lost = [RetriableApiError("no reply")]

    def send(batch) -> None:
        sent.append(tuple(batch))
        if tuple(batch) == (1, 2, 3) and lost:
            raise lost.pop()
        if 5 in batch:
            msg = "refused"
            raise FatalApiError(msg)

    writes.batched([[1, 2, 3], [4, 5, 6]], send, recover=lambda items: items, record=str, total=6)
    assert sent == [(1, 2, 3), (4, 5, 6), (4, 5), (6,), (1, 2, 3), (4,), (5,)]
    assert [f.record for f in writes.failed] == ["5"]


def test_failed_batches_of_a_round_share_one_recover_and_keep_their_lane() -> None:
    """Issue 11 item 7: every failed batch of a round is re-read at once (one ``recover``
    call a round, not one per batch), and a re-sent batch mixes no lanes."""
    writes, sent, recovered = Writes("customers", Hook(), dry_run=False), [], []
    lost = {(1, 3), (2, 4), (5, 7)}

    def send(batch) -> None:
        sent.append(tuple(batch))
        if tuple(batch) in lost:
            lost.discard(tuple(batch))
            msg = "no reply"
            raise RetriableApiError(msg)

    def recover(items: list[int]) -> list[int]:
        recovered.append(sorted(items))
        return items

    writes.batched(
        [[1, 3], [2, 4], [5, 7], [6, 8]],
        send,
        recover=recover,
        record=str,
        total=8,
        lane=lambda n: n % 2,
    )
    assert recovered == [[1, 2, 3, 4, 5, 7]]
    assert sent[4:] == [(1, 3), (5, 7), (2, 4)]
    assert not writes.failed
