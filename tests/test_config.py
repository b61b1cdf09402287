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
    ],
)
def test_errors_name_file_and_field(tmp_path, text, expected):
    path = tmp_path / "acme.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert "acme.yaml" in str(excinfo.value)
    assert expected in str(excinfo.value)


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
