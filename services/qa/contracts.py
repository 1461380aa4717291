"""What other packages may import of qa (the gateway): its request and answer schemas. Nothing
here reaches its models."""

from services.qa.schemas import (
    AnalysisQuery,
    AssessmentPeriod,
    AssessmentQuery,
    CallbackOut,
    CallbackResult,
    CenterAssessmentOut,
    CenterFactOut,
    Classification,
    CloseCallback,
    Finding,
    MonthBody,
    RegionInputBody,
    RegionOut,
    ReportQuery,
    ScorecardOut,
    ScorecardQuery,
    WorkListQuery,
)

__all__ = [
    "AnalysisQuery",
    "AssessmentPeriod",
    "AssessmentQuery",
    "CallbackOut",
    "CallbackResult",
    "CenterAssessmentOut",
    "CenterFactOut",
    "Classification",
    "CloseCallback",
    "Finding",
    "MonthBody",
    "RegionInputBody",
    "RegionOut",
    "ReportQuery",
    "ScorecardOut",
    "ScorecardQuery",
    "WorkListQuery",
]
