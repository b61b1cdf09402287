"""Billing config files (issue: foundation §3): defaults of the spec, every flag with its
PHP name documented, unknown keys refused, errors naming the file and the field."""

from __future__ import annotations

import pytest

from scripts.airflow_env import REPO
from usm_billing.config import BillingConfig, default_config_dir, load_config, load_configs
from usm_billing.exceptions import ConfigError

MINIMAL = "billing_id: 3\nbilling_conn_id: b\nuserside_conn_id: u\n"


def test_defaults_follow_the_spec(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    config = load_config(path)
    assert config.schedule == "*/10 * * * *"
    assert config.billing_name == "standart"
    assert (
        config.group_add_batch_size,
        config.group_edit_batch_size,
        config.group_edit_typical_batch_size,
        config.compare_house_batch_size,
    ) == (100, 200, 4000, 10000)
    assert config.skip_update_agreement_date is False


def test_every_flag_names_its_php_variable():
    for name, field in BillingConfig.model_fields.items():
        assert field.description, f"{name} needs a description"
        if field.annotation is bool:
            assert "$" in field.description, f"{name}: name the PHP variable"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            MINIMAL + "skip_update_agreemnt_date: true\n",
            "skip_update_agreemnt_date",
            id="unknown-key",
        ),
        pytest.param(MINIMAL.replace("3", "zero"), "billing_id", id="bad-type"),
        pytest.param(MINIMAL + "billing_name: mikbill\n", "billing_name", id="bad-dialect"),
        pytest.param(MINIMAL + "schedule: every ten minutes\n", "schedule", id="bad-cron"),
        pytest.param(
            MINIMAL + "group_edit_batch_size: 0\n",
            "group_edit_batch_size",
            id="batch-size-positive",
        ),
        pytest.param("billing_id: [1\n", "not valid YAML", id="broken-yaml"),
        pytest.param("- 1\n", "must be a YAML mapping", id="not-a-mapping"),
        pytest.param(MINIMAL.replace("3", "true"), "billing_id", id="billing-id-bool"),
        pytest.param(MINIMAL.replace("3", '"3"'), "billing_id", id="billing-id-string"),
        pytest.param(MINIMAL.replace("3", "-3"), "billing_id", id="billing-id-negative"),
        pytest.param(MINIMAL + "request_attempts: true\n", "request_attempts", id="int-bool"),
        pytest.param(
            MINIMAL + "skip_delete_ip: []\nbilling_name: carbon5\nskip_delete_ip: [10.0.0.0/8]\n",
            "`skip_delete_ip` is given twice (lines 4 and 6)",
            id="duplicate-key",
        ),
        pytest.param(MINIMAL + "schedule: '61 * * * *'\n", "schedule", id="cron-minute-61"),
        pytest.param(MINIMAL + "schedule: '*/10 * * * * *'\n", "schedule", id="cron-6-fields"),
        pytest.param(MINIMAL + "schedule: '@often'\n", "schedule", id="cron-unknown-preset"),
        pytest.param(MINIMAL + "schedule: '* * 31 2 mon-xyz'\n", "schedule", id="cron-bad-dow"),
        pytest.param(
            MINIMAL + "state_path: http://host/state\n", "unknown scheme `http://`", id="state-http"
        ),
        pytest.param(MINIMAL + "state_path: 's3:///prefix'\n", "no bucket", id="state-no-bucket"),
        pytest.param(MINIMAL + "state_path: state\n", "relative path", id="state-relative"),
    ],
)
def test_errors_name_file_and_field(tmp_path, text, expected):
    path = tmp_path / "acme.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert "acme.yaml" in str(excinfo.value)
    assert expected in str(excinfo.value)


@pytest.mark.parametrize(
    ("schedule", "kept"),
    [
        pytest.param("*/10 * * * *", "*/10 * * * *", id="every-10-min"),
        pytest.param(" 0 3 * * mon-fri ", "0 3 * * mon-fri", id="weekday-names"),
        pytest.param("@daily", "@daily", id="airflow-preset"),
    ],
)
def test_valid_schedules(tmp_path, schedule, kept):
    path = tmp_path / "x.yaml"
    path.write_text(MINIMAL + f"schedule: '{schedule}'\n", encoding="utf-8")
    assert load_config(path).schedule == kept


def test_not_utf8_names_the_file_and_the_byte(tmp_path):
    path = tmp_path / "cp1251.yaml"
    head = (MINIMAL + "always_set_customer_group_id: ").encode()
    path.write_bytes(head + "Абонент\n".encode("cp1251"))
    with pytest.raises(
        ConfigError, match=rf"cp1251\.yaml: is not UTF-8 text \(byte {len(head)} is"
    ):
        load_config(path)


@pytest.mark.parametrize(
    "make_path",
    [
        pytest.param(lambda tmp: str(tmp / "new" / "state"), id="folder-to-create"),
        pytest.param(lambda tmp: (tmp / "state").as_uri(), id="file-url"),
        pytest.param(lambda tmp: "s3://bucket/usm", id="s3"),
        pytest.param(lambda tmp: "gs://bucket", id="gcs"),
    ],
)
def test_usable_state_paths(tmp_path, make_path):
    path = tmp_path / "x.yaml"
    path.write_text(MINIMAL + f"state_path: '{make_path(tmp_path)}'\n", encoding="utf-8")
    assert load_config(path).state_path == make_path(tmp_path)


def test_state_path_under_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("", encoding="utf-8")
    path = tmp_path / "x.yaml"
    path.write_text(MINIMAL + f"state_path: {tmp_path / 'taken' / 'state'}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"field `state_path`: .* is a file"):
        load_config(path)


def test_state_path_not_writable_is_refused(tmp_path, monkeypatch):
    """The check asks the OS about the nearest existing folder (here tmp_path): the tests
    run as root, so the refusal of the OS is simulated."""
    import usm_billing.config as config_module

    refused = {tmp_path}
    real_access = config_module.os.access
    monkeypatch.setattr(
        config_module.os, "access", lambda p, mode: p not in refused and real_access(p, mode)
    )
    path = tmp_path / "x.yaml"
    path.write_text(MINIMAL + f"state_path: {tmp_path / 'state'}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x\.yaml: field `state_path`: .* is not writable"):
        load_config(path)


def test_one_broken_file_does_not_hide_the_others(tmp_path):
    (tmp_path / "a.yaml").write_text(MINIMAL, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("billing_id: x\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text(MINIMAL, encoding="utf-8")  # same billing_id as a
    configs, errors = load_configs(tmp_path)
    assert list(configs) == ["a"]
    assert sorted(p.name for p in errors) == ["b.yaml", "c.yaml"]
    assert "already used by a.yaml" in str(errors[tmp_path / "c.yaml"])


def test_config_dir_override(monkeypatch, tmp_path):
    monkeypatch.delenv("USM_BILLING_CONFIG_DIR", raising=False)
    assert default_config_dir() == REPO / "include" / "config" / "billings"
    monkeypatch.setenv("USM_BILLING_CONFIG_DIR", str(tmp_path))
    assert default_config_dir() == tmp_path


def test_shipped_configs_are_valid():
    configs, errors = load_configs(REPO / "include" / "config" / "billings")
    assert errors == {}
    assert "demo" in configs


def test_http_limits_reach_both_hooks(tmp_path):
    """Issue 11: the deadline and the body cap are set per billing; 1 GiB by default."""
    from usm_billing.tasks.context import RunContext
    from usm_billing.transport import DEFAULT_MAX_BODY_BYTES

    path = tmp_path / "x.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_config(path).request_options["max_body_bytes"] == DEFAULT_MAX_BODY_BYTES
    path.write_text(MINIMAL + "max_reply_mib: 2\nrequest_timeout_seconds: 7\n", encoding="utf-8")
    ctx = RunContext(load_config(path))
    for hook in (ctx.billing, ctx.userside):
        assert (hook.max_body_bytes, hook.timeout) == (2 << 20, 7)
