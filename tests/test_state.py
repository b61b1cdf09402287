"""Records kept between runs (the documents of usm_billing.state_store), written by the
one codec."""

from __future__ import annotations

from usm_billing import codec
from usm_billing.state import MessageState


def test_message_state_round_trip_sorted():
    state = MessageState({"3", "1"})
    assert codec.encode(state, stable=True) == b'{"sent":["1","3"]}'
    assert codec.decode(codec.encode(state), MessageState) == state
