"""spinsyn.report: self-contained ``report.html`` pages of a study (``spinsyn study``) and of a pipeline run.

Public API: :func:`write_study_report` (``DIR/report.html`` from ``DIR/results.csv`` and the study's cache) and
:func:`write_pipeline_report` (``OUT/report.html`` from a ``spinsyn pipeline`` folder). Pages embed every figure
as a PNG data URI and need no file or network access to display; see docs/study.md ("report.html").
"""

from .pipeline import write_pipeline_report
from .study import write_study_report

__all__ = ["write_pipeline_report", "write_study_report"]
