# Image for docker-compose.yaml: the official Airflow image plus this package's runtime pins
# (requirements.txt only: no test or lint tools; constraints.txt only constrains).
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/usm_billing/
RUN --mount=type=bind,source=pyproject.toml,target=/opt/airflow/pyproject.toml --mount=type=bind,source=plugins,target=/opt/airflow/plugins,rw pip install --no-cache-dir -r /opt/usm_billing/requirements.txt -c /opt/usm_billing/constraints.txt && pip install --no-cache-dir --no-deps -e /opt/airflow
# Mount points of the named volumes: a new volume takes the owner of its mount point, so the
# XCom files and the importer's state are the airflow user's (group 0 for another AIRFLOW_UID).
RUN mkdir -p /opt/airflow/xcom /opt/airflow/usm_billing_state /opt/airflow/config \
    && chmod g+rwX /opt/airflow/xcom /opt/airflow/usm_billing_state /opt/airflow/config
