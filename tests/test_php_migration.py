"""``usm-billing import-php-config`` (issue 13 §10): every ``$conf…`` setting, the
identity, batch sizes and merge maps of the PHP module's config file become our YAML;
the two connections are printed without their keys; the README table maps every PHP
setting the specs name."""

from __future__ import annotations

import pytest

from scripts.airflow_env import REPO
from usm_billing.cli import main
from usm_billing.config import load_config
from usm_billing.exceptions import ConfigError
from usm_billing.php_config import parse_php_config
from usm_billing.php_migration import PHP_FIELDS, PHP_ONLY, migrate

# Every PHP setting the specs name: universal-api.md §4.5 (the flag table and "other
# flags present in the core") and userside-api.md S3 (the wiki's config params).
SPEC_SETTINGS = [
    "confIsSkipUpdateAgreementDate",
    "confIsDisableCreateAddress",
    "confIsSkipDeleteEmptyIp",
    "confSkipDeleteIp",
    "confIsImportLessPhone",
    "confIsImportLessAddress",
    "confIsUpdateEmptyLevel",
    "confIsUpdateEmptyEntrance",
    "confIsImportPasswordToUsPassword",
    "confIsSkipUpdateDateActivity",
    "confIsSkipUnusedAddress",
    "isWithoutLog",
    "confAlwaysSetCustomerGroupId",
    "confIsUseStreetFullName",
    "confIsImportMessage",
    "additionalCustomerDataMerge",
    "billingName",
    "confIsSavePasswordToComment",
    "confIsDoNotUpdateAddPhone",
    "confIsSkipParentLink",
    "confIsImportSwitchCommutation",
    "confIsForceDeleteEmptyIp",
    "confIsSkipSyncCustomerIsCorporate",
    "confIsDontUpdateDateConnect",
    "confIpGrayNet",
    "confIpWhiteNet",
    "markMerge",
    "apiGroupCounter",
    "apiGroupCounter2",
    "apiGroupHouseCounter",
    "isSilence",
    "isDebugMode",
    "billingCrcId",
    "usersideUrl",
    "usersideApiKey",
    "billingUrl",
    "billingId",
    "logPath",
    "additionalDataMerge",
    "isDontChangeChildId",
]

BILLING_KEY = "S3cretBillingKey"
USERSIDE_KEY = "S3cretUsersideKey"

PHP = f"""<?php
/* usm_billing.conf.php of the PHP module */
$billingName = 'standart';
$billingUrl = 'http://billing.example/billing/?module=remoteapi&key={BILLING_KEY}&action=userside';
$usersideUrl = "https://erp.example/api.php";
$usersideApiKey = '{USERSIDE_KEY}';
$billingId = 7;
$logPath = '/var/log/usm_billing/';
$isSilence = 1;
$isDebugMode = 0;
$apiGroupCounter = 2000;
$apiGroupCounter2 = 150;
$apiGroupHouseCounter = 5000;
$additionalDataMerge = array(3 => 7, '4' => 0);
$additionalCustomerDataMerge = [12 => 5];
$markMerge = [1 => [3, 4], 2 => 6];
$confIsSkipUpdateAgreementDate = 1;
$confIsDisableCreateAddress = false;
$confIsSkipDeleteEmptyIp = '1';
$confSkipDeleteIp = array(array(167772160, 184549375), '192.168.0.0/24');
$confIsImportLessPhone = 0;
$confIsImportLessAddress = true;
$confIsUpdateEmptyLevel = 1;
$confIsUpdateEmptyEntrance = 1;
$confIsImportPasswordToUsPassword = 1;
$confIsSavePasswordToComment = 0;
$confIsSkipUpdateDateActivity = 1;
$confIsSkipUnusedAddress = 1;
$confIsUseStreetFullName = 1;
$confIsImportMessage = 1;
$confIsDoNotUpdateAddPhone = 1;
$confIsSkipParentLink = 1;
$confIsImportSwitchCommutation = 1;
$confIsForceDeleteEmptyIp = 1;
$confIsSkipSyncCustomerIsCorporate = 1;
$confIsDontUpdateDateConnect = 1;
$confAlwaysSetCustomerGroupId = 5;
$confIpGrayNet = '10.0.0.0/16';
$confIpWhiteNet = '100.64.0.0/16';
$isWithoutLog = 1;
$isDontChangeChildId = 1;
$someOtherSecret = 'Hidden{BILLING_KEY}';
"""


@pytest.mark.parametrize("php", SPEC_SETTINGS)
def test_every_spec_setting_is_mapped_and_in_the_readme(php):
    assert php in PHP_FIELDS or php in PHP_ONLY
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    target = f"`{PHP_FIELDS[php]}`" if php in PHP_FIELDS else PHP_ONLY[php]
    assert f"| `${php}` | {target} |" in readme


def test_one_field_per_php_variable():
    assert len(set(PHP_FIELDS.values())) == len(PHP_FIELDS)


@pytest.fixture
def imported(tmp_path, capsys):
    source = tmp_path / "usm_billing.conf.php"
    source.write_text(PHP, encoding="utf-8")
    out = tmp_path / "billings" / "acme.yaml"
    code = main(["import-php-config", str(source), "--name", "acme", "--output", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    return out, printed.out


def test_the_yaml_has_every_setting(imported):
    out, _ = imported
    config = load_config(out)
    assert (config.billing_id, config.billing_name) == (7, "standart")
    assert (config.billing_conn_id, config.userside_conn_id) == ("usm_billing_acme", "usm_userside")
    assert (
        config.group_edit_typical_batch_size,
        config.group_edit_batch_size,
        config.compare_house_batch_size,
    ) == (2000, 150, 5000)
    assert config.additional_data_merge == {"3": 7, "4": 0}
    assert config.additional_customer_data_merge == {"12": 5}
    assert config.mark_merge == {"1": [3, 4], "2": [6]}
    assert config.skip_delete_ip == ["167772160-184549375", "192.168.0.0/24"]
    assert config.always_set_customer_group_id == "5"
    assert (config.ip_gray_net, config.ip_white_net) == ("10.0.0.0/16", "100.64.0.0/16")
    assert config.disable_create_address is False
    assert config.import_less_phone is False
    assert config.save_password_to_comment is False
    flags_on = {name for name, value in config.model_dump().items() if value is True}
    assert flags_on == {
        "skip_update_agreement_date",
        "skip_delete_empty_ip",
        "import_less_address",
        "update_empty_level",
        "update_empty_entrance",
        "import_password_to_us_password",
        "skip_update_date_activity",
        "skip_unused_address",
        "use_street_full_name",
        "import_message",
        "do_not_update_add_phone",
        "skip_parent_link",
        "import_switch_commutation",
        "force_delete_empty_ip",
        "skip_sync_customer_is_corporate",
        "dont_update_date_connect",
        "without_log",
        "dont_change_child_id",
    }


def test_connections_are_printed_without_keys(imported):
    out, printed = imported
    assert (
        "airflow connections add usm_billing_acme --conn-type http --conn-host "
        "'http://billing.example/billing/?module=remoteapi&action=userside' "
        '--conn-password "$BILLING_API_KEY"'
    ) in printed
    assert "$BILLING_API_KEY: the `key` parameter of $billingUrl" in printed
    assert (
        "airflow connections add usm_userside --conn-type http --conn-host https://erp.example "
        '--conn-password "$USERSIDE_API_KEY"'
    ) in printed
    assert "$USERSIDE_API_KEY: $usersideApiKey" in printed
    assert "note: not imported: $someOtherSecret has no counterpart" in printed
    for secret in (BILLING_KEY, USERSIDE_KEY):
        assert secret not in printed
        assert secret not in out.read_text(encoding="utf-8")


def test_an_existing_yaml_needs_force(imported, capsys):
    out, _ = imported
    source = out.parent.parent / "usm_billing.conf.php"
    args = ["import-php-config", str(source), "--output", str(out)]
    assert main(args) == 2
    assert "exists (--force replaces it)" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


def test_userside_key_in_the_url_and_a_cp1251_file(tmp_path, capsys):
    source = tmp_path / "old.conf.php"
    php = (
        "<?php\n// Настройки модуля\n$billingId = 2;\n"
        f"$usersideUrl = 'http://us.local/userside/api.php?key={USERSIDE_KEY}';\n"
        f"$billingUrl = 'https://b:9443/admin/index.cgi?get_index=us_api&key={BILLING_KEY}"
        "&cat=module';\n"
    )
    source.write_bytes(php.encode("cp1251"))
    out = tmp_path / "old.yaml"
    assert main(["import-php-config", str(source), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "--conn-host http://us.local/userside --conn-password" in printed
    assert "$USERSIDE_API_KEY: the `key` parameter of $usersideUrl" in printed
    assert "'https://b:9443/admin/index.cgi?get_index=us_api&cat=module'" in printed
    assert USERSIDE_KEY not in printed
    assert BILLING_KEY not in printed
    assert load_config(out).billing_id == 2


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            "$confIsImportMessage = 'yes';", "$confIsImportMessage is not 0, 1", id="flag"
        ),
        pytest.param(
            "$confIsImportMessage = IMPORT;", "$confIsImportMessage cannot be read", id="const"
        ),
        pytest.param(
            "$billingName = 'mikbill';", "field `billing_name` ($billingName)", id="dialect"
        ),
        pytest.param("$apiGroupCounter = 0;", "($apiGroupCounter)", id="batch-size"),
        pytest.param("$markMerge = 5;", "$markMerge is not an array", id="map"),
        pytest.param(
            f"$billingUrl = 'http://b/?key={BILLING_KEY}' . $x;", "$billingUrl cannot", id="url"
        ),
    ],
)
def test_bad_settings_name_the_variable_and_write_nothing(tmp_path, capsys, line, expected):
    source = tmp_path / "bad.conf.php"
    source.write_text(f"<?php\n$billingId = 1;\n{line}\n", encoding="utf-8")
    out = tmp_path / "bad.yaml"
    assert main(["import-php-config", str(source), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(source) in err
    assert expected in err
    assert BILLING_KEY not in err
    assert not out.exists()


def test_null_keeps_the_default():
    migration = migrate(
        parse_php_config("<?php $billingId = 1; $apiGroupCounter = null;"),
        source="x.php",
        billing_conn_id="b",
        userside_conn_id="u",
    )
    assert "group_edit_typical_batch_size" not in migration.settings
    assert (
        migration.notes[0]
        == "$apiGroupCounter is null: `group_edit_typical_batch_size` keeps its default"
    )


def test_missing_billing_id_is_an_error():
    with pytest.raises(
        ConfigError, match=r"x\.php: field `billing_id` \(\$billingId\): Field required"
    ):
        migrate(
            parse_php_config("<?php"), source="x.php", billing_conn_id="b", userside_conn_id="u"
        )
