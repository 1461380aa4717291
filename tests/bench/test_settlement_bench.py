"""bench/settlement_month.py at a small scale: the bulk path gives the same statements as the
domain (every statement's total is the sum of its lines), and `fsm settlement` is registered."""

import importlib.util
import sys
from pathlib import Path

from shared.config import REPO_ROOT


def _bench():
    path = Path(REPO_ROOT) / "bench" / "settlement_month.py"
    spec = importlib.util.spec_from_file_location("settlement_month_bench", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_bench_small_month(tmp_path):
    from sqlalchemy import func, select

    from services.settlement.models import Statement, StatementLine
    from shared.db import make_engine

    url = f"sqlite:///{tmp_path}/bench.db"
    bench = _bench()
    result = bench.run(3000, 12, database_url=url)
    assert result["statements"] == 12 and result["within_60s"]
    assert sum(result["statuses"].values()) == 3000 and result["statuses"]["rejected"] > 0
    assert result["held"] > 0 and result["flagged_repeat"] > 0 and result["capped"] > 0
    engine = make_engine(url)
    with engine.connect() as conn:
        for st_id, total in conn.execute(select(Statement.id, Statement.total_fen)):
            lines = conn.execute(
                select(func.sum(StatementLine.amount_fen)).where(StatementLine.statement_id == st_id)
            ).scalar()
            assert lines == total


def test_cli_registers_settlement_commands():
    from fsm.main import build_parser

    args = build_parser().parse_args(["settlement", "issue-statements", "--month", "2026-10", "--tenant", "C01"])
    assert args.month == "2026-10" and args.tenant == "C01" and callable(args.func)
