"""Idempotent recovery (issue 6 deliverable 3): a run killed at any point, including
between ``group_add`` and reading the new ids back, and after a write UserSide applied but
whose reply was lost, is followed by a new run that converges to exactly what a fault-free
run produces, with nothing duplicated and nothing lost.

A batch write applied in part (the emulator's ``partial`` fault: the first half of a
``customer group_edit``/``group_add`` or ``tariff group_edit`` applied, then the request
refused without ``Count`` or its reply lost) is recovered in the SAME run: the failed
batch's records are re-read and re-diffed, only what still differs is sent again, and the
next run writes nothing. Every test runs against both emulator profiles (contract §12)."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import replace

import pytest

from emulators.billing.generator import generate
from emulators.userside.faults import FAULT_HEADER, NO_REPLY, Faults
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


def duplicates(stack, reference: dict | None = None) -> int:
    """Objects held twice: customers/tariffs/houses per billing key, tariff links; with
    ``reference``, also service instances and IPs beyond what the fault-free run holds."""
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
    ip_owners = Counter()
    for uid, row in stack.view().items():
        links = [t["id"] for t in row["tariff"]["current"]]
        count += len(links) - len(set(links))
        ip_owners.update(ip for ip in (row.get("ip_mac") or {}) if str(ip) != "-1")
        if reference is not None:  # the reference holds services by name (chaos.comparable)
            wanted = reference.get(uid, {}).get("service") or {}
            held = sum(len(instances) for instances in (row.get("service") or {}).values())
            count += max(0, held - sum(len(instances) for instances in wanted.values()))
    return count + sum(n - 1 for n in ip_owners.values() if n > 1)


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """What a fault-free run leaves in a UserSide of each profile (built on first use)."""
    built: dict[str, dict] = {}

    def reference(profile: str) -> dict:
        if profile not in built:
            with (
                pytest.MonkeyPatch.context() as monkeypatch,
                emulator_stack(
                    tmp_path_factory.mktemp(f"reference-{profile}"),
                    monkeypatch,
                    DATASET,
                    settings=SETTINGS,
                    profile=profile,
                ) as stack,
            ):
                run_sync(stack.config_path)
                built[profile] = comparable(stack)
                assert len(built[profile]) == len(DATASET["get_user_list"]), "empty reference"
        return built[profile]

    return reference


@pytest.fixture
def reference(references, profile):
    """The fault-free state of this test's profile."""
    return references(profile)


def _diff(a: dict, b: dict) -> list:
    return [
        (uid, k, a[uid].get(k), b.get(uid, {}).get(k))
        for uid in a
        for k in a[uid]
        if not same(a[uid].get(k), b.get(uid, {}).get(k))
    ][:5]


def _exact_diff(a: dict, b: dict) -> list:
    return [
        (uid, k, a[uid].get(k), b.get(uid, {}).get(k))
        for uid in a
        for k in a[uid]
        if a[uid].get(k) != b.get(uid, {}).get(k)
    ][:5]


def _converge(stack) -> None:
    """The next scheduled run, then one more that must write nothing."""
    run_sync(stack.config_path)
    _quiet_run(stack)


def _quiet_run(stack) -> None:
    """One more run: zero write requests, by the importer's and by UserSide's counters,
    and nothing refused."""
    before = stack.userside_stats()
    assert run_sync(stack.config_path)["write_requests"] == 0
    after = stack.userside_stats()
    assert after["writes"] - before["writes"] == 0
    assert after["refusals_total"] - before["refusals_total"] == 0, after["refusals"]


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
def test_killed_before_a_task_then_rerun(tmp_path, monkeypatch, reference, profile, step):
    with emulator_stack(
        tmp_path, monkeypatch, DATASET, settings=SETTINGS, profile=profile
    ) as stack:
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


def test_killed_between_group_add_and_reading_ids_back(tmp_path, monkeypatch, reference, profile):
    with emulator_stack(
        tmp_path, monkeypatch, DATASET, settings=SETTINGS, profile=profile
    ) as stack:
        calls = Counter()
        original = UserSideHook.get_view  # every view read: the extract's and re-reads

        def get_view(self, *args, **kwargs):
            calls["get_view"] += 1
            if calls["get_view"] == 2:  # the read-back right after group_add
                raise Killed(self)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(UserSideHook, "get_view", get_view)
        with pytest.raises(Killed):
            run_sync(stack.config_path)
        assert stack.view(), "group_add had created the customers"
        monkeypatch.setattr(UserSideHook, "get_view", original)
        _converge(stack)
        assert same(comparable(stack), reference), _diff(comparable(stack), reference)
        # exact, types included: the placeholder rows are filled as a clean run fills new
        # customers (a UserSide default 0 is no written "0", issue 11 item 11)
        assert comparable(stack) == reference, _exact_diff(comparable(stack), reference)
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
def test_reply_lost_after_the_write_was_applied(tmp_path, monkeypatch, reference, profile, action):
    with emulator_stack(
        tmp_path, monkeypatch, DATASET, settings=SETTINGS, profile=profile, request_attempts=1
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


@pytest.mark.parametrize("reply", ["refused", "lost"])
@pytest.mark.parametrize(
    "action", ["customer.group_edit", "customer.group_add", "tariff.group_edit"]
)
def test_partial_application_is_recovered_in_the_same_run(
    tmp_path, monkeypatch, reference, profile, action, reply
):
    """The first request of ``action`` applies its first half, then is refused (HTTP 400,
    no ``Count``) or loses its reply; the hook's own retries stay on (a lost reply is
    re-sent as it is)."""
    with emulator_stack(
        tmp_path,
        monkeypatch,
        DATASET,
        settings=SETTINGS,
        profile=profile,
        # small batches: a failed one has customers on both sides of the half
        group_add_batch_size=10,
        group_edit_batch_size=10,
    ) as stack:
        em = stack.userside
        em.faults = Faults(partial_actions=frozenset({action}), partial_reply=reply)
        handle = em.handle
        hit = []

        def once(method, path, query, body, content_type):
            response = handle(method, path, query, body, content_type)
            if response[1].get(FAULT_HEADER) == "partial":
                hit.append(response[0])
                em.faults = Faults()  # one partial application, then a healthy UserSide
            return response

        em.handle = once
        summary = run_sync(stack.config_path)
        assert hit == [400 if reply == "refused" else NO_REPLY], f"{action} was never sent"
        assert not summary["failed"], summary["failed"]
        assert same(comparable(stack), reference), _diff(comparable(stack), reference)
        assert duplicates(stack, reference) == 0
        _quiet_run(stack)
