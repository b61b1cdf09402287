"""Fuzzed billing payloads (issue 6 deliverable 5): whatever a billing sends — wrong types,
missing fields, unicode, huge numbers, wrong nesting, random bytes — parsing and diffing
end in a value or in the package's own precise error, never an unhandled exception."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usm_billing.config import BillingConfig
from usm_billing.exceptions import UsmBillingError
from usm_billing.sync.customer_fields import customer_fields
from usm_billing.sync.customer_rules import CustomerRules
from usm_billing.sync.customers import new_customer_view
from usm_billing.sync.tariffs import desired_tariff_fields
from usm_billing.universal_api.catalogues import BillingTariff
from usm_billing.universal_api.customers import parse_customer
from usm_billing.universal_api.fields import RecordError
from usm_billing.universal_api.payload import decode_body, iter_items
from usm_billing.userside.customers import parse_view_row
from usm_billing.userside.models import UsSettings

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["", "0", "-1", "0000-00-00", "1970-01-01", "undefined", "1e400", "12,5"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
CUSTOMER_KEYS = [
    "id",
    "login",
    "full_name",
    "flag_corporate",
    "company_id",
    "tariff",
    "agreement",
    "account_number",
    "group",
    "comment",
    "balance",
    "credit",
    "discount",
    "state_id",
    "date_connect",
    "date_activity",
    "traffic",
    "address",
    "phone",
    "email",
    "ip_mac",
    "tag",
    "service",
    "additional_data",
    "password",
    "is_disable",
    "account",
]
CUSTOMER = st.dictionaries(st.sampled_from(CUSTOMER_KEYS), JSON, max_size=len(CUSTOMER_KEYS))
TARIFF_KEYS = ["id", "name", "payment", "payment_interval", "speed", "traffic", "service_type"]
TARIFF = st.dictionaries(st.sampled_from(TARIFF_KEYS), JSON, max_size=len(TARIFF_KEYS))

RULES = CustomerRules.build(
    BillingConfig(billing_id=1, billing_conn_id="b", userside_conn_id="u"),
    UsSettings(is_update_traffic=1, is_update_address=1),
    {"5": "work"},
    now_unix=1_800_000_000,
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(key=st.text(max_size=10) | st.integers(), raw=CUSTOMER | JSON)
def test_customer_rows_parse_or_name_the_field(key, raw):
    try:
        customer = parse_customer(key, raw)
    except RecordError as err:
        rejected_field = err.field
    else:
        rejected_field = None
    if rejected_field is not None:
        assert rejected_field  # the error names the field
        return
    fields = customer_fields(customer, new_customer_view(customer.id), RULES)
    json.dumps(fields)  # what is sent must be JSON


@FUZZ
@given(raw=TARIFF | JSON)
def test_tariff_rows_parse_or_fail_precisely(raw):
    try:
        tariff = BillingTariff.from_raw("t", raw)
    except (RecordError, ValueError):
        return
    json.dumps(desired_tariff_fields(tariff))


@FUZZ
@given(body=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
def test_reply_bodies_decode_or_fail_precisely(body):
    try:
        value = decode_body(body, source="billing `fuzz` get_user_list")
    except UsmBillingError as err:
        message = str(err)
    else:
        message = None
        list(iter_items(value))
    if message is not None:
        assert "billing `fuzz` get_user_list" in message


@FUZZ
@given(
    key=st.text(max_size=10),
    row=JSON
    | st.dictionaries(
        st.sampled_from([*CUSTOMER_KEYS, "erp_id", "userside_id", "is_in_billing"]), JSON
    ),
)
def test_userside_view_rows_never_crash(key, row):
    view = parse_view_row(key, row)
    if view is not None:
        assert isinstance(view.us_id, int)
