"""Records kept between runs (the documents of usm_billing.state_store)."""

from __future__ import annotations

from usm_billing.state import MessageState


def test_message_state_round_trip():
    state = MessageState({"3", "1"})
    assert state.to_json() == {"sent": ["1", "3"]}
    assert MessageState.from_json(state.to_json()) == state
    assert MessageState.from_json(None) == MessageState()
