"""One usm_billing Airflow DAG per billing YAML in ``include/config/billings/``
(or ``$USM_BILLING_CONFIG_DIR``).

A broken config file becomes an import error naming the file and the field; the other
billings' DAGs still load. No connections, variables or HTTP at parse time.
"""

from usm_billing.check_dag import build_check_dag
from usm_billing.config import default_config_dir, load_configs
from usm_billing.dag import build_config_error_dag, build_dag

configs, errors = load_configs(default_config_dir())
for name, config in configs.items():
    globals()[f"usm_billing_{name}"] = build_dag(config, name)
    globals()[f"usm_billing_{name}_check"] = build_check_dag(config, name)  # manual only
if errors:
    usm_billing_config_errors = build_config_error_dag([str(err) for err in errors.values()])
