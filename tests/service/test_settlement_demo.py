"""settlement's part of `fsm demo` against intake + settlement + gateway (no dispatch: the
part publishes visit.completed for the demo's tickets itself)."""

import re

from fsm.demo import DemoContext, Gateway
from shared.tenants import TenantDirectory
from tests.conftest import C01, Platform
from tests.pdf_tools import pdf_text

TICKET = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉测试公司",
    "phone": "138****0000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2026-06-01",
    "fault": "无法启动",
}


def test_demo_part(runner_factory, service_config, rpc_as, tmp_path):
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.settlement import demo
    from services.settlement.service import SettlementService

    runner = runner_factory(service_config, IntakeService, SettlementService, GatewayService)
    runner.start()
    platform = Platform(runner, service_config)
    with rpc_as(C01, "intake") as intake:
        for i in range(3):
            intake.register_ticket(dict(TICKET, phone=f"138****000{i}"))
        tickets = intake.list_tickets({"limit": 10})["items"]
    ctx = DemoContext(
        config=service_config,
        gateway=Gateway(platform.base_url, service_config["AUTH_SECRET"]),
        directory=TenantDirectory.from_config(service_config),
        tickets=tickets,
        timings={},
        tap=None,
        names=["intake", "settlement", "gateway"],
        run_dir=tmp_path,
    )
    lines, ok = demo.run(ctx)
    text = "\n".join(lines)
    assert ok, text
    assert "refused (409 invalid_transition)" in text and "XLSX" in text and "PDF" in text and "total" in text
    # both files are kept in the run's documents folder, and listed for the report
    written = {path.suffix: path for path, _ in ctx.documents}
    assert set(written) == {".xlsx", ".pdf"} and all(p.parent == tmp_path / "documents" for p in written.values())
    outlet = ctx.directory.outlets[re.match(r"statement-(C\d\d-O\d+)-", written[".pdf"].name).group(1)]
    assert outlet.name in " ".join(pdf_text(written[".pdf"].read_bytes())[0].split())
    print(text)
