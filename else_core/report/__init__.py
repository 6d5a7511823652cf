"""``elsectl report``: pflogsumm's statistics, counted per e-mail, and pflogsumm's own totals.

* :mod:`else_core.report.stats` builds the full report from parsed events and the
  correlator's e-mails (each message counted once, through content filters).
* :mod:`else_core.report.pflogsumm` reproduces pflogsumm 1.1.5's Grand Totals, quirks
  included, in a lean pass over raw lines (``--compat pflogsumm``).
* :mod:`else_core.report.render` prints either as text, JSON or CSV.

The JSON schema and the CSV layout are documented in docs/report.md.
"""

from else_core.report.pflogsumm import KEYS, pflogsumm_totals
from else_core.report.render import render_compat, render_csv, render_json, render_text
from else_core.report.stats import SCHEMA, ReportBuilder

__all__ = [
    "KEYS",
    "SCHEMA",
    "ReportBuilder",
    "pflogsumm_totals",
    "render_compat",
    "render_csv",
    "render_json",
    "render_text",
]
