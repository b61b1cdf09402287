"""The run report as people read it (issue 13.6): a table, not a Python dict; dry runs
marked; the first failure named (issue 11.10); the run's note for the grid."""

from __future__ import annotations

import pytest

from usm_billing.tasks.results import Failure, RunReport

ENTITIES = {
    "tariffs": {"add": 2, "edit": 0, "dry_run": False, "write_requests": 2, "failed": []},
    "customers": {
        "create": 3,
        "edit": 109,
        "not_in_billing": 0,
        "fields": {"balance": 109},
        "dry_run": False,
        "write_requests": 4,
        "failed": [],
    },
}


def test_the_table_has_one_row_per_entity_with_its_non_zero_counts():
    table = RunReport(ENTITIES, write_requests=6, failed=(), audit="file:///s/1/runs/r/audit")
    lines = table.table().splitlines()
    assert lines[0] == "usm_billing report"
    assert lines[2].split() == ["entity", "changes", "write", "requests"]
    assert lines[4].split() == ["tariffs", "add", "2", "2"]
    assert lines[5].split() == ["customers", "create", "3,", "edit", "109", "4"]
    assert "{" not in table.table()  # no dict
    assert lines[-1] == "field-level audit: file:///s/1/runs/r/audit"


def test_a_failed_run_names_its_first_failure_then_the_others():
    report = RunReport(
        {},
        write_requests=0,
        failed=(Failure("c1", "refused"),),
        incomplete=("load_customers", "finish"),
        errors=(Failure("load_customers", "UserSide down"), Failure("finish", "timeout")),
    )
    text = report.table()
    assert "FAILED FIRST: load_customers: UserSide down" in text
    assert text.index("FAILED FIRST") < text.index("then failed: finish: timeout")
    assert "did not run to the end: load_customers, finish" in text
    assert "  c1: refused" in text


@pytest.mark.parametrize(
    ("report", "note"),
    [
        pytest.param(
            RunReport(ENTITIES, 0, (), dry_run=True),
            "dry run: 112 customers would change",
            id="13.6-dry-run",
        ),
        pytest.param(
            RunReport(ENTITIES, 6, ()), "112 customers changed, 6 write requests", id="13.6-done"
        ),
        pytest.param(
            RunReport({}, 0, (Failure("c1", "x"),), errors=(Failure("start", "down"),)),
            "0 customers changed, 0 write requests; 1 records failed; failed first: start",
            id="13.6-failed",
        ),
    ],
)
def test_the_note_says_what_the_run_did(report, note):
    assert report.note() == note
    if report.dry_run:
        assert report.table().startswith("usm_billing report (DRY RUN: nothing was written)")
