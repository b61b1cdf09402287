"""The broken billing config files, as an Airflow import error of this file alone.

It holds no DAG, so its failing import stales nothing; the billings' DAGs live in
``usm_billing_dags.py``, where a broken file is a failing placeholder DAG instead. The
import-error list of the UI names every broken file and field; it clears once they are
fixed (the file then imports cleanly).
"""

from usm_billing.config import default_config_dir, load_configs
from usm_billing.exceptions import ConfigError

_, errors = load_configs(default_config_dir())
if errors:
    raise ConfigError(
        f"{len(errors)} billing config file(s) are broken, their billings are not imported: "
        + "; ".join(str(error) for error in errors.values())
    )
