# Image for docker-compose.yaml: the official Airflow image plus this package's pins.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/usm_billing/
RUN pip install --no-cache-dir -r /opt/usm_billing/requirements.txt -c /opt/usm_billing/constraints.txt
