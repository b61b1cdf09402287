"""usm_billing: UserSide's billing importer (``usm_billing``) as an Airflow DAG package.

Layout: :mod:`usm_billing.config` (one billing's settings), :mod:`usm_billing.universal_api`
(the billing side), :mod:`usm_billing.userside` (the UserSide side), :mod:`usm_billing.sync`
(pure normalise -> diff -> change set), :mod:`usm_billing.tasks` (the steps of a run,
defined once in ``tasks/pipeline.py`` for the DAG and the CLI) and :mod:`usm_billing.dag`
(Airflow glue).
"""

__version__ = "0.1.0"
