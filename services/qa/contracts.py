"""What other packages may import of qa (the gateway): its request and answer schemas. Nothing
here reaches its models."""

from services.qa.schemas import (
    AnalysisQuery,
    CallbackOut,
    CallbackResult,
    CenterFactOut,
    Classification,
    CloseCallback,
    Finding,
    MonthBody,
    ReportQuery,
    ScorecardOut,
    ScorecardQuery,
    WorkListQuery,
)

__all__ = [
    "AnalysisQuery",
    "CallbackOut",
    "CallbackResult",
    "CenterFactOut",
    "Classification",
    "CloseCallback",
    "Finding",
    "MonthBody",
    "ReportQuery",
    "ScorecardOut",
    "ScorecardQuery",
    "WorkListQuery",
]
