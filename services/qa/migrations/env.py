import services.qa.report_models  # noqa: F401  (its table joins Base.metadata)
from services.qa.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
