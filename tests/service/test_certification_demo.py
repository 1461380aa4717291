"""The certification part of `fsm demo` runs against the live services (settlement answering
by hand here, as the settlement service would) and reports every step."""

import threading
import time
from datetime import UTC, datetime

from fsm.demo import DemoContext, Gateway
from shared.tenants import TenantDirectory
from tests.certification_fixtures import *  # noqa: F401,F403
from tests.certification_fixtures import HQ, publish_settlement


def test_demo_part_runs_and_shows_the_clearing_step(cert_platform, rpc_as):
    p = cert_platform
    ctx = DemoContext(
        config=p.config,
        gateway=Gateway(p.base_url, p.config["AUTH_SECRET"]),
        directory=TenantDirectory.load(),
        tickets=[],
        timings={},
        tap=None,
        names=["certification"],
    )

    def settlement_answers():  # a settlement stand-in: open items for the first clearing request it sees
        deadline = time.time() + 12
        while time.time() < deadline:
            with rpc_as(HQ, "certification") as cert:
                o = cert.get_outlet("C05-O05")
            if o["status"] == "revoking" and o["clearing_status"] == "pending":
                publish_settlement(
                    p.config,
                    "account.open_items",
                    {
                        "tenant_id": "C05",
                        "outlet_id": "C05-O05",
                        "request_id": o["clearing_request_id"],
                        "open_items": [{"kind": "rma", "ref": "RMA-5501", "description": "旧件未返厂"}],
                        "at": datetime.now(UTC),
                    },
                )
                return
            time.sleep(0.2)

    helper = threading.Thread(target=settlement_answers)
    helper.start()
    from services.certification import demo

    lines, ok = demo.run(ctx)
    helper.join()
    text = "\n".join(lines)
    assert ok, text
    assert "effective" in text and "HTTP 409" in text and "HTTP 403" in text
    assert "open items listed: rma RMA-5501" in text, text
    assert "outlets short" in text
