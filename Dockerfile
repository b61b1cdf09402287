# Image for docker-compose.yaml: the official Airflow image plus this package's pins.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/usm_billing/
RUN --mount=type=bind,source=pyproject.toml,target=/opt/airflow/pyproject.toml --mount=type=bind,source=plugins,target=/opt/airflow/plugins,rw pip install --no-cache-dir -r /opt/usm_billing/requirements.txt -c /opt/usm_billing/constraints.txt && pip install --no-cache-dir --no-deps -e /opt/airflow
