"""The hostile-billing phase of ``make chaos`` (issue 11): every attack of a billing on
the importer (hostile transport, key-echoing error bodies, malformed records) holds: the
run ends as expected, within bounds, no key in anything it printed, logged, raised or
reported, UserSide left exactly as the clean import wrote it, and a last clean run writes
nothing. ``make chaos`` runs it with 100 customers; a small billing here."""

from __future__ import annotations

import pytest

from scripts.chaos_hostile import run_hostile

ECHO = "echo: ERROR: text"


@pytest.fixture(scope="module")
def results():
    return run_hostile(customers=20)


def test_every_hostile_billing_attack_held(results):
    not_held = {r.attack: r.problems for r in results if not r.held}
    assert not_held == {}
    assert len(results) > 20  # every attack ran, then the clean run
    assert results[-1].attack == "clean run"
    assert results[-1].writes == 0


def test_the_phase_sees_a_key_that_is_not_masked(monkeypatch):
    """The leak count is real: with the masking of error texts switched off, the echoed
    key is found and the attack does not hold."""
    monkeypatch.setattr("usm_billing.exceptions.redact", lambda text: text)
    echo, _clean = run_hostile(customers=20, only=[ECHO])
    assert echo.attack == ECHO
    assert echo.keys_leaked > 0
    assert not echo.held


def test_the_phase_sees_a_customer_blanked(monkeypatch):
    """The data-lost count is real: with the all-null check switched off, the null record
    blanks its customer in UserSide and the attack does not hold."""
    monkeypatch.setattr("usm_billing.universal_api.customers._check_row", lambda *_: None)
    blank, _clean = run_hostile(customers=20, only=["all-null record"])
    assert blank.data_lost > 0
    assert not blank.held
