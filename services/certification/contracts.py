"""What other packages may import of certification (the gateway): its request and answer
schemas. Nothing here reaches its models."""

from services.certification.schemas import (
    AllowedStepsOut,
    ApplyIn,
    CertificateOut,
    ExamIn,
    ExamOut,
    OutletOut,
    OutletQuery,
    PlanQuery,
    RevokeCertificateIn,
    StepIn,
    StepOut,
    TechnicianIn,
    TechnicianOut,
    TechnicianQuery,
    TrainingIn,
    TrainingOut,
)
from services.certification.training_schemas import (
    PlanSessionIn,
    TrainingPlanCreated,
    TrainingPlanIn,
    TrainingPlanOut,
    TrainingPlanPage,
    TrainingPlanQuery,
)

__all__ = [
    "AllowedStepsOut",
    "ApplyIn",
    "CertificateOut",
    "ExamIn",
    "ExamOut",
    "OutletOut",
    "OutletQuery",
    "PlanQuery",
    "RevokeCertificateIn",
    "StepIn",
    "StepOut",
    "TechnicianIn",
    "TechnicianOut",
    "TechnicianQuery",
    "TrainingIn",
    "TrainingOut",
    "PlanSessionIn",
    "TrainingPlanCreated",
    "TrainingPlanIn",
    "TrainingPlanOut",
    "TrainingPlanPage",
    "TrainingPlanQuery",
]
