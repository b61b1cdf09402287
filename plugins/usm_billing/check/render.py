"""The compatibility report as text (no record values, no keys): what ``check`` prints and
the check DAG logs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from usm_billing.exceptions import redact

if TYPE_CHECKING:
    from usm_billing.check.report import CheckReport

__all__ = ["render"]


def render(report: CheckReport) -> str:
    """The report as text (no record values, no keys)."""
    lines = [
        f"usm_billing check: {report.billing}",
        f"  url          {report.url}" if report.url else "",
        f"  billing      {report.product}",
        f"  API version  {report.api_version}",
        f"  clock        {report.clock}",
        "  clock skew   "
        + ("not measured" if report.skew_seconds is None else f"{report.skew_seconds:+d} s"),
    ]
    listed = (
        "no method list published"
        if report.advertised_count is None
        else f"{report.advertised_count} advertised by get_supported_method_list"
    )
    lines.append(f"methods this config uses ({listed}):")
    width = max(len(r.need.method) for r in report.methods)
    for row in report.methods:
        status = "ok" if row.answered else ("MISSING" if row.need.required else "missing")
        said = {True: "advertised", False: "not advertised", None: "-"}[row.advertised]
        kind = "required" if row.need.required else "optional"
        detail = f"  {row.detail}" if row.detail else ""
        lines.append(
            f"  {status:<8}{row.need.method:<{width + 2}}{kind:<10}{said:<16}"
            f"{row.need.purpose}{detail}"
        )
    counts = ", ".join(f"{kind} {n}" for kind, n in report.counts.items())
    lines.append(f"records: {counts or 'none read'}; {report.record_error_count} fail validation")
    lines.extend(f"  {text}" for text in report.record_errors)
    if report.record_error_count > len(report.record_errors):
        lines.append(f"  … and {report.record_error_count - len(report.record_errors)} more")
    for severity in ("blocking", "warning", "note"):
        lines.extend(f"{severity}: {f.text}" for f in report.findings if f.severity == severity)
    lines.append(f"verdict: {report.verdict}")
    # the texts come from the billing's own replies, which may echo a key anywhere
    return redact("\n".join(line for line in lines if line))
