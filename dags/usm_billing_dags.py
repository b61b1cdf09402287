"""One usm_billing Airflow DAG per billing YAML in ``include/config/billings/``
(or ``$USM_BILLING_CONFIG_DIR``).

This file never raises: Airflow marks every DAG of a file that fails to import stale, so
one typo would stop all billings. A broken config file becomes instead a DAG of the same
id whose single task fails naming the file and the field, and
``usm_billing_config_errors.py`` reports it as an import error of its own. No
connections, variables or HTTP at parse time.
"""

from usm_billing.check_dag import build_check_dag
from usm_billing.config import default_config_dir, load_configs
from usm_billing.dag import build_config_error_dag, build_dag

configs, errors = load_configs(default_config_dir())
for name, config in configs.items():
    try:
        sync_dag, check_dag = build_dag(config, name), build_check_dag(config, name)
    except Exception as err:  # one billing's DAG never fails the others (see above)
        failed = f"{name}.yaml: its DAG cannot be built ({type(err).__name__}: {err})"
        globals()[f"usm_billing_{name}"] = build_config_error_dag(name, failed)
        continue
    globals()[f"usm_billing_{name}"] = sync_dag
    globals()[f"usm_billing_{name}_check"] = check_dag  # manual only
for path, error in errors.items():
    globals()[f"usm_billing_{path.stem}"] = build_config_error_dag(path.stem, str(error))
