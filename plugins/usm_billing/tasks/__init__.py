"""The steps of one run, shared by the DAG and the CLI (:mod:`usm_billing.tasks.pipeline`).

``run`` holds the handshake, the two extracts, the plausibility gate, ``finish`` and the
report; one module per entity (mirroring :mod:`usm_billing.sync`) exposes ``diff`` and
``load``; ``writes`` is the one write policy every load follows.
"""
