"""``python -m usm_billing check --config FILE``: whether this billing works with this config.

Probes the billing (``get_system_information``, ``get_api_information``,
``get_supported_method_list``), fetches every list the config needs once, validates every
record with the importer's own parsers, reads UserSide's clock, and prints a compatibility
report: API version, methods present and missing, clock skew, records that fail
validation (record, field, reason) and a verdict. Nothing is written anywhere.

Three layers, so the judgement is testable without sockets, one module each:

* :mod:`~usm_billing.check.command` — I/O only: one request per method through the hooks,
  each answer kept as a :class:`~usm_billing.check.report.Probe` (value or error text), and
  the CLI;
* :mod:`~usm_billing.check.judge` — pure: config + probes in,
  :class:`~usm_billing.check.report.CheckReport` out; the records are validated by
  :mod:`~usm_billing.check.records`;
* :mod:`~usm_billing.check.render` — pure: the report as text.

:mod:`~usm_billing.check.report` holds what they pass each other. Exit codes of
:func:`~usm_billing.check.command.check_command`: 0 compatible (warnings allowed), 1 a
blocking problem, 2 the check could not run (config error, billing unreachable, key
refused) — the last is one line on stderr. Keys never appear: error texts come from the
hooks, which never put the key in a message, and the base URL is printed without
credentials or ``key=``.
"""
