"""Idempotent recovery (issue 6 deliverable 3): a run killed at any point, including
between ``group_add`` and reading the new ids back, and after a write UserSide applied but
whose reply was lost, is followed by a new run that converges to exactly what a fault-free
run produces, with nothing duplicated and nothing lost."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import replace

import pytest

from emulators.billing.generator import generate
from emulators.userside.faults import NO_REPLY
from scripts import chaos
from scripts.chaos import same
from tests.integration.harness import emulator_stack
from usm_billing.cli import run_sync
from usm_billing.exceptions import UsmBillingError
from usm_billing.tasks import pipeline
from usm_billing.userside.hook import UserSideHook

SETTINGS = {"is_update_address": 1, "is_new_house_billing_compare": 1, "is_update_mac": 1}
DATASET = generate(40, seed=11)


class Killed(BaseException):  # stands for SIGKILL: not an error anyone may handle
    """The worker died: nothing after this point of the run happened."""


def comparable(stack) -> dict:
    return chaos.comparable(stack.userside)["get_user_list"]


def duplicates(stack) -> int:
    state = stack.userside.state.to_dict()
    count = 0
    for section, key in (
        ("customers", "billing_uid"),
        ("tariffs", "billing_tariff_id"),
        ("houses", "billing_house_id"),
    ):
        seen = Counter(
            (str(r.get("billing_id")), str(r.get(key)))
            for r in state.get(section, {}).values()
            if r.get(key) is not None
        )
        count += sum(n - 1 for n in seen.values() if n > 1)
    for row in stack.view().values():
        links = [t["id"] for t in row["tariff"]["current"]]
        count += len(links) - len(set(links))
    return count


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """What a fault-free run leaves in UserSide."""
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        emulator_stack(
            tmp_path_factory.mktemp("reference"), monkeypatch, DATASET, settings=SETTINGS
        ) as stack,
    ):
        run_sync(stack.config_path)
        return comparable(stack)


def _diff(a: dict, b: dict) -> list:
    return [
        (uid, k, a[uid].get(k), b.get(uid, {}).get(k))
        for uid in a
        for k in a[uid]
        if not same(a[uid].get(k), b.get(uid, {}).get(k))
    ][:5]


def _converge(stack) -> None:
    """The next scheduled run, then one more that must write nothing."""
    run_sync(stack.config_path)
    assert run_sync(stack.config_path)["write_requests"] == 0


@pytest.mark.parametrize(
    "step",
    [
        "extract_billing",
        "verify_extracts",
        "load_tariffs",
        "load_addresses",
        "load_customers",
        "load_ips",
        "finish",
    ],
)
def test_killed_before_a_task_then_rerun(tmp_path, monkeypatch, reference, step):
    with emulator_stack(tmp_path, monkeypatch, DATASET, settings=SETTINGS) as stack:
        original = pipeline.PIPELINE

        def die(*args, **kwargs):
            raise Killed(step)

        monkeypatch.setattr(
            pipeline,
            "PIPELINE",
            tuple(replace(s, run=die) if s.name == step else s for s in original),
        )
        with pytest.raises(Killed):
            run_sync(stack.config_path)
        monkeypatch.setattr(pipeline, "PIPELINE", original)
        _converge(stack)
        assert same(comparable(stack), reference), _diff(comparable(stack), reference)
        assert duplicates(stack) == 0


def test_killed_between_group_add_and_reading_ids_back(tmp_path, monkeypatch, reference):
    with emulator_stack(tmp_path, monkeypatch, DATASET, settings=SETTINGS) as stack:
        calls = Counter()
        original = UserSideHook.get_user_list

        def get_user_list(self, *args, **kwargs):
            calls["get_user_list"] += 1
            if calls["get_user_list"] == 2:  # the read-back right after group_add
                raise Killed(self)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(UserSideHook, "get_user_list", get_user_list)
        with pytest.raises(Killed):
            run_sync(stack.config_path)
        assert stack.view(), "group_add had created the customers"
        monkeypatch.setattr(UserSideHook, "get_user_list", original)
        _converge(stack)
        assert same(comparable(stack), reference), _diff(comparable(stack), reference)
        assert duplicates(stack) == 0


@pytest.mark.parametrize(
    "action",
    [
        "tariff.add",
        "tariff.group_edit",
        "customer.group_add",
        "customer.group_edit",
        "address.compare_house",
    ],
)
def test_reply_lost_after_the_write_was_applied(tmp_path, monkeypatch, reference, action):
    with emulator_stack(
        tmp_path, monkeypatch, DATASET, settings=SETTINGS, request_attempts=1
    ) as stack:
        handle = stack.userside.handle
        lost = []

        def lose_first_reply(method, path, query, body, content_type):
            status, headers, reply = handle(method, path, query, body, content_type)
            form = dict(pair.split("=", 1) for pair in body.decode().split("&") if "=" in pair)
            if f"{form.get('cat')}.{form.get('action')}" == action and not lost:
                lost.append(json.loads(reply or b"null"))
                return NO_REPLY, {}, b""
            return status, headers, reply

        stack.userside.handle = lose_first_reply
        with contextlib.suppress(UsmBillingError):  # the run fails, or reports and goes on
            run_sync(stack.config_path)
        assert lost, f"{action} was never sent"
        _converge(stack)
        assert same(comparable(stack), reference), _diff(comparable(stack), reference)
        assert duplicates(stack) == 0
