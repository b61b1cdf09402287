"""State kept between runs that UserSide no longer backs (issue 11 item 2): the house
cache names houses a restored UserSide lost, or that an admin merged away. The run checks
the cache against UserSide's own answers (the view's house ids, then the house list),
drops what is gone, asks those houses again, and every customer ends at a house UserSide
has, without ``full_resync``."""

from __future__ import annotations

from collections import Counter

from emulators.billing.generator import generate
from tests.integration.harness import emulator_stack
from usm_billing.cli import run_sync

SETTINGS = {"is_update_address": 1, "is_new_house_billing_compare": 1}
DATASET = generate(20, seed=5)


def counting(stack) -> Counter:
    """Counts ``compare_house`` requests the emulator answers."""
    calls: Counter = Counter()
    handle = stack.userside.handle

    def counted(method, path, query, body, content_type):
        if b"action=compare_house" in body:
            calls["compare_house"] += 1
        return handle(method, path, query, body, content_type)

    stack.userside.handle = counted
    return calls


def dangling(stack) -> list[tuple[str, int]]:
    """Customers whose house id UserSide does not have."""
    state = stack.userside.state.to_dict()
    houses = {int(h) for h in state["houses"]}
    return [
        (c["billing_uid"], int(c["house_id"]))
        for c in state["customers"].values()
        if int(c.get("house_id") or 0) > 0 and int(c["house_id"]) not in houses
    ]


def housed(stack) -> int:
    return sum(1 for row in stack.view().values() if int(row["address"][0]["house_id"] or 0) > 0)


def test_restored_userside_gets_its_houses_asked_again(tmp_path, monkeypatch, profile):
    with emulator_stack(
        tmp_path, monkeypatch, DATASET, settings=SETTINGS, profile=profile
    ) as stack:
        backup = stack.userside.state.to_dict()  # before the first import
        run_sync(stack.config_path)
        expected = housed(stack)
        assert expected > 0
        stack.userside.state.replace(backup)  # restored: customers and houses gone
        calls = counting(stack)
        run_sync(stack.config_path)
        assert calls["compare_house"] > 0, "the cached houses were trusted"
        assert dangling(stack) == []
        assert housed(stack) == expected


def test_houses_merged_by_an_admin_are_asked_again(tmp_path, monkeypatch):
    with emulator_stack(tmp_path, monkeypatch, DATASET, settings=SETTINGS) as stack:
        run_sync(stack.config_path)
        state = stack.userside.state.to_dict()
        used = Counter(int(c["house_id"]) for c in state["customers"].values() if c["house_id"])
        (gone, _), (kept, _) = used.most_common(2)
        for customer in state["customers"].values():  # the admin merges `gone` into `kept`
            if int(customer["house_id"] or 0) == gone:
                customer["house_id"] = kept
        del state["houses"][str(gone)]
        stack.userside.state.replace(state)
        run_sync(stack.config_path)
        assert dangling(stack) == []
        assert run_sync(stack.config_path)["write_requests"] == 0
