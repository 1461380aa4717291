"""Exact sampling over the broker: every outlet of both centers with one or two completed jobs in a
month (rounded per outlet, HQ's 20% and the self-run 50% of one job are 0 and 1); QA plans HQ's
20% exactly over each center's month, the self-run 50% over the center's self-run outlets, every
franchised job, the same jobs the domain rule picks."""

import random
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

from services.qa.sampling import StratifiedSampler, quota
from shared.tenants import TenantDirectory
from tests.conftest import HQ, wait_for
from tests.qa_fixtures import now_utc, qa_config, send, visit  # noqa: F401

SH = ZoneInfo("Asia/Shanghai")


def test_small_outlets_sampled_exactly_per_center_month(container_factory, qa_config, rpc_as, send):
    from decimal import Decimal

    from services.qa.service import QaService

    qa_config["max_workers"] = 1  # jobs planned in the order sent, as the replay below adds them
    container = container_factory(QaService, qa_config)
    container.start()
    outlets = sorted(TenantDirectory.load().outlets.values(), key=lambda o: o.id)
    assert len(outlets) == 36
    rng = random.Random(3)
    jobs = [(o, j) for o in outlets for j in range(rng.choice((1, 2)))]
    rng.shuffle(jobs)
    base = now_utc() - timedelta(hours=3)
    sampler = StratifiedSampler("test-seed")
    for i, (outlet, _) in enumerate(jobs):
        at = base + timedelta(seconds=i)
        send("dispatch", "visit.completed", visit(f"sm{i:03d}", f"tsm{i:03d}", outlet.id, at, tenant=outlet.center))
        sampler.add(f"sm{i:03d}", outlet.id, at.astimezone(SH).strftime("%Y-%m"), outlet.kind, outlet.center)
    served = Counter(outlet.center for outlet, _ in jobs)
    self_run = Counter(outlet.center for outlet, _ in jobs if outlet.kind == "self_run")
    franchised = sum(1 for outlet, _ in jobs if outlet.kind != "self_run")
    expected = franchised + sum(quota(Decimal("0.5"), n) for n in self_run.values())
    expected += sum(quota(Decimal("0.2"), n) for n in served.values())

    def planned():
        with rpc_as(HQ, "qa") as qa:
            page = qa.work_list({"status": "all", "caller": "all", "purpose": "service", "limit": 1000})
        return page["total"] >= expected and page["items"]

    items = wait_for(planned, timeout=60, what=f"{len(jobs)} jobs planned")
    hq = Counter(c["tenant_id"] for c in items if c["stratum"] == "hq")
    assert hq == {center: quota(Decimal("0.2"), n) for center, n in served.items()} and all(hq.values())
    assert Counter(c["tenant_id"] for c in items if c["stratum"] == "self_run") == {
        center: quota(Decimal("0.5"), n) for center, n in self_run.items()
    }
    assert sum(1 for c in items if c["stratum"] == "franchised") == franchised
    assert len(items) == expected
    chosen = {(k[0], v) for k, by_outlet in sampler.selected.items() for jobs_ in by_outlet.values() for v in jobs_}
    assert {(c["stratum"], c["visit_id"]) for c in items} == chosen
