"""Pure, Airflow-free sync logic: billing snapshot + UserSide view → change set."""
