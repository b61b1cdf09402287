"""Which billing methods a config makes the check (and the import) ask (spec §0.1, §4.5)."""

from __future__ import annotations

import pytest

from tests.check.probes import config
from usm_billing.check.report import needed_methods


@pytest.mark.parametrize(
    ("settings", "needed", "not_needed"),
    [
        pytest.param(
            {},
            {"get_user_tags", "get_services_list", "get_user_group_list", "get_house_list"},
            {"get_user_messages"},
            id="0.1-standart",
        ),
        pytest.param(
            {"import_message": True}, {"get_user_messages"}, set(), id="4.5-import-message"
        ),
        pytest.param(
            {"billing_name": "carbon5", "import_message": True},
            {"get_user_group_list"},
            {"get_user_tags", "get_services_list", "get_user_messages"},
            id="4.5-carbon5-no-tags-messages-services",
        ),
    ],
)
def test_needed_methods(settings, needed, not_needed) -> None:
    methods = {n.method for n in needed_methods(config(**settings))}
    assert needed <= methods
    assert not methods & not_needed
    required = {n.method for n in needed_methods(config(**settings)) if n.required}
    assert {"get_system_information", "get_tariff_list", "get_user_list"} <= required
