"""The UserSide emulator's state saving off the request path and its view cache (they keep
the emulator's own cost out of ``make bench``)."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

import pytest

from emulators.userside import UserSideEmulator, UserSideState
from emulators.userside.persist import BackgroundSaver
from tests.emulators.userside_client import KEY, Client

if TYPE_CHECKING:
    from pathlib import Path


def _add_customer(c: Client, uid: int) -> None:
    c.post(
        cat="customer",
        action="group_add",
        billing_id=1,
        data=[{"billing_customer_id": uid, "name": f"n{uid}"}],
    )


def _view(c: Client, **extra: Any) -> tuple[int, Any]:
    return c.get(cat="module", request="get_user_list", billing_id=1, **extra)


def test_saver_writes_once_per_burst_and_on_close(tmp_path: Path) -> None:
    """A burst of changes is one save, written atomically; nothing left to save is no save."""
    path = tmp_path / "state.json"
    snapshots = iter(json.dumps({"n": n}).encode() for n in range(10))
    saver = BackgroundSaver(path, lambda: next(snapshots), threading.RLock(), delay=3600)
    for _ in range(5):
        saver.mark()
    assert (saver.saves, path.exists()) == (0, False)  # not on the caller's thread
    saver.flush()
    saver.flush()  # nothing changed since
    assert (saver.saves, json.loads(path.read_bytes())) == (1, {"n": 0})
    saver.mark()
    saver.close()
    assert (saver.saves, json.loads(path.read_bytes())) == (2, {"n": 1})
    assert not list(tmp_path.glob(".userside-state-*"))


def test_saver_saves_from_its_thread(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    saved = threading.Event()

    def snapshot() -> bytes:
        saved.set()
        return b"{}"

    saver = BackgroundSaver(path, snapshot, threading.RLock(), delay=0)
    saver.mark()
    assert saved.wait(timeout=30)
    saver.close()
    assert path.read_bytes() == b"{}"


def test_emulator_writes_and_lifecycle_calls_do_not_save_each(tmp_path: Path) -> None:
    """Contract §1.1 persistence: what is saved reloads to the same view; many writes and
    lifecycle calls before the flush, one file written."""
    path = tmp_path / "state.json"
    em = UserSideEmulator(UserSideState(), key=KEY, state_path=str(path))
    c = Client(em)
    for uid in range(1, 21):
        _add_customer(c, uid)
        c.post(cat="usm_billing", action="set_start_info", version="v")
    assert em._saver is not None
    before = em._saver.saves
    em.close()
    assert em._saver.saves <= before + 1 <= 2  # one save for the burst (the thread's or close's)
    reloaded = Client(UserSideEmulator(UserSideState.load(path), key=KEY))
    assert _view(reloaded) == _view(c)
    assert len(_view(reloaded)[1]) == 20


def test_view_cache_until_the_next_change() -> None:
    """The encoded view is kept between writes, per request parameters; a write or a
    control change renders it again."""
    em = UserSideEmulator(UserSideState(), key=KEY, cache_views=True)
    c = Client(em)
    _add_customer(c, 1)
    first = _view(c)
    em.state.add_customer("1", "2", "behind the handler's back")  # not seen: cached
    assert _view(c) == first
    assert len(_view(c, customer_id="2")[1]) == 1  # other parameters: rendered
    em.changed()
    assert len(_view(c)[1]) == 2
    _add_customer(c, 3)  # a write through the handler
    assert len(_view(c)[1]) == 3
    c.raw("POST", "/_emulator/reset")
    assert _view(c)[1] in ([], {})


def test_lifecycle_calls_keep_the_cached_view(tmp_path: Path) -> None:
    """Issue 12: ``set_start_info``/``system_operation``/``set_stop_info`` only log the run
    (contract §9.8), which no view shows, so the cached view survives them; the run log is
    still saved."""
    path = tmp_path / "state.json"
    em = UserSideEmulator(UserSideState(), key=KEY, cache_views=True, state_path=path)
    c = Client(em)
    _add_customer(c, 1)
    first = _view(c)
    em.state.add_customer("1", "2", "behind the handler's back")  # shows only if rendered
    for action in ("set_start_info", "system_operation", "set_stop_info"):
        c.post(cat="usm_billing", action=action, billing_id=1)
    assert _view(c) == first
    em.close()
    assert [run["action"] for run in json.loads(path.read_text())["runs"]][-3:] == [
        "set_start_info",
        "system_operation",
        "set_stop_info",
    ]


def test_without_cache_every_read_renders() -> None:
    em = UserSideEmulator(UserSideState(), key=KEY)
    c = Client(em)
    _add_customer(c, 1)
    _view(c)
    em.state.add_customer("1", "2", "direct")
    assert len(_view(c)[1]) == 2


@pytest.mark.parametrize(
    ("customer_id", "expected"),
    [
        pytest.param("2", ["2"], id="5.1-one-us-id"),
        pytest.param("3,1", ["1", "3"], id="5.1-several-ids-in-us-id-order"),
        pytest.param("4", [], id="5.1-a-customer-of-another-billing"),
        pytest.param("99,x,", [], id="5.1-unknown-ids"),
    ],
)
def test_customer_id_reads_look_the_customers_up(customer_id, expected):
    """``customer_id=`` (UserSide ids) picks the customers of the billing asked for."""
    em = UserSideEmulator(UserSideState(), key=KEY)
    c = Client(em)
    for uid in (1, 2, 3):
        _add_customer(c, uid)
    c.post(
        cat="customer",
        action="group_add",
        billing_id=2,
        data=[{"billing_customer_id": 4, "name": "other billing"}],
    )
    status, rows = _view(c, customer_id=customer_id, is_id_billing_user_id=1)
    assert status == 200
    assert list(rows) == expected
