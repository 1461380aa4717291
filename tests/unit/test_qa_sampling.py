"""Callback sampling (seed 004: 特约点100%, 自办点50%, 总部20%, 每月20%电话慰问): each sampler's
percentage exact over its whole population of a month, shared among outlets by largest remainder,
reproducible from the seed, and every outlet with jobs sampled in turn."""

import random
from collections import Counter
from decimal import Decimal

from services.qa import domain, sampling
from services.qa.sampling import OutletJobs, StratifiedSampler

R20, R50 = Decimal("0.2"), Decimal("0.5")


def _small_month(rng, outlets, period):
    """Each outlet's 1 or 2 jobs of a month, in a shuffled arrival order."""
    jobs = []
    for outlet in outlets:
        for j in range(rng.choice((1, 2))):
            jobs.append((f"{period}-{outlet}-{j}", outlet))
    rng.shuffle(jobs)
    return jobs


def _months(count, start=(2026, 1)):
    year, month = start
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return out


OUTLETS36 = [f"C01-O{i:02d}" for i in range(1, 37)]


def test_hq_samples_exactly_twenty_percent_of_a_month_of_small_outlets():
    """36 outlets with 1-2 jobs each: rounded per outlet HQ would call nobody; over the month it
    calls round(20% x all jobs), after every arrival, at most one job more than an outlet's share."""
    rng = random.Random(7)
    sampler = StratifiedSampler("seed-A")
    jobs = _small_month(rng, OUTLETS36, "2026-03")
    for n, (visit_id, outlet) in enumerate(jobs, start=1):
        sampler.add(visit_id, outlet, "2026-03", "franchised")
        chosen = sampler.sample("hq", "C01", "2026-03")
        assert sum(len(v) for v in chosen.values()) == sampling.quota(R20, n)
    assert 36 <= len(jobs) <= 72
    total = sum(len(v) for v in sampler.sample("hq", "C01", "2026-03").values())
    assert total == round(len(jobs) * 0.2) and total >= 7  # not 0, as rounding per outlet gave
    per_outlet = Counter(outlet for _, outlet in jobs)
    for outlet, chosen in sampler.sample("hq", "C01", "2026-03").items():
        assert len(chosen) <= 1 and len(chosen) < per_outlet[outlet] * 0.2 + 1
    # the franchised outlets' own callbacks stay at 100%
    own = sampler.sample("franchised", "C01", "2026-03")
    assert sum(len(v) for v in own.values()) == len(jobs)


def test_over_twelve_months_every_small_outlet_is_sampled():
    rng = random.Random(11)
    sampler = StratifiedSampler("seed-A")
    for period in _months(12):
        jobs = _small_month(rng, OUTLETS36, period)
        for visit_id, outlet in jobs:
            sampler.add(visit_id, outlet, period, "franchised")
        month = sampler.sample("hq", "C01", period)
        assert sum(len(v) for v in month.values()) == sampling.quota(R20, len(jobs))
    taken = Counter()
    for period in _months(12):
        for outlet, chosen in sampler.sample("hq", "C01", period).items():
            taken[outlet] += len(chosen)
    assert set(taken) == set(OUTLETS36), sorted(set(OUTLETS36) - set(taken))
    # and fairly: nobody is sampled far beyond their share of the year
    assert max(taken.values()) - min(taken.values()) <= 2


def test_self_run_fifty_percent_over_the_centers_self_run_outlets():
    """Five self-run outlets with one job each: 50% of 5 is 3 (half up), not 5 x round(0.5) = 5."""
    sampler = StratifiedSampler("seed-A")
    for i in range(5):
        sampler.add(f"s{i}", f"C01-S{i}", "2026-03", "self_run")
    chosen = sampler.sample("self_run", "C01", "2026-03")
    assert sum(len(v) for v in chosen.values()) == 3
    assert "franchised" not in {k[0] for k in sampler.population}  # self-run jobs are not the 100% tier
    # another tenant's month is its own population
    sampler.add("x0", "C02-S1", "2026-03", "self_run", tenant_id="C02")
    assert sum(len(v) for v in sampler.sample("self_run", "C02", "2026-03").values()) == 1


def test_allocation_is_largest_remainder_and_reproducible():
    parts = [
        OutletJobs("a", tuple(f"a{i}" for i in range(7))),  # 1.4
        OutletJobs("b", tuple(f"b{i}" for i in range(8))),  # 1.6
        OutletJobs("c", tuple(f"c{i}" for i in range(4))),  # 0.8
        OutletJobs("d", ("d0",)),  # 0.2
    ]
    chosen = sampling.allocate(R20, parts, seed="s", stratum="hq", period="2026-03")
    assert len(chosen) == 4  # round(20 x 0.2)
    by_outlet = Counter(job[0] for job in chosen)
    assert by_outlet == {"a": 1, "b": 2, "c": 1}  # floors 1, 1, 0, 0; remainders .6 and .8 win over .4 and .2
    # the same seed gives the same jobs in any order of the outlets; another seed other jobs
    assert sampling.allocate(R20, parts[::-1], seed="s", stratum="hq", period="2026-03") == chosen
    others = [sampling.allocate(R20, parts, seed=f"s{i}", stratum="hq", period="2026-03") for i in range(5)]
    assert any(set(other) != set(chosen) for other in others)
    # within an outlet, the lowest keyed hash
    assert [j for j in chosen if j[0] == "b"] == sampling.ranked("s", "hq", [f"b{i}" for i in range(8)])[:2]
    # topped up, never withdrawn: nothing more to add once at the quota
    full = [OutletJobs(p.outlet_id, p.jobs, frozenset(j for j in chosen if j[0] == p.outlet_id)) for p in parts]
    assert sampling.allocate(R20, full, seed="s", stratum="hq", period="2026-03") == []


def test_ties_rotate_with_the_period_and_carry_decides():
    parts = [OutletJobs(f"o{i}", (f"o{i}-v",)) for i in range(5)]  # five outlets, one job each: 1 slot
    winners = {sampling.allocate(R20, parts, seed="s", stratum="hq", period=period)[0][:2] for period in _months(24)}
    assert len(winners) >= 4  # equal claims: a different outlet from month to month
    # an outlet that was passed over earlier carries its claim and wins the tie
    carried = sampling.carry(R20, [("o3", 4, 0), ("o1", 1, 1)])
    assert carried == {"o3": Decimal("0.8"), "o1": Decimal("-0.8")}
    with_carry = [OutletJobs(p.outlet_id, p.jobs, carry=carried.get(p.outlet_id, Decimal(0))) for p in parts]
    assert sampling.allocate(R20, with_carry, seed="s", stratum="hq", period="2026-03") == ["o3-v"]


def test_quota_and_batch_pick():
    pop = [f"v{i}" for i in range(10)]
    chosen = sampling.pick("s", "self_run", R50, pop, set())
    assert chosen == sampling.ranked("s", "self_run", pop)[:5]
    assert sampling.pick("s", "self_run", R50, pop, set(chosen)) == []
    assert sampling.quota(R20, 7) == 1 and sampling.quota(R20, 8) == 2  # 1.4 -> 1, 1.6 -> 2
    assert sampling.quota(R50, 5) == 3  # 2.5 rounds half up
    assert sampling.previous_periods("2026-02", 3) == ["2025-11", "2025-12", "2026-01"]


def test_strata_and_callers():
    assert sampling.strata_for("franchised") == ["franchised", "hq"]
    assert sampling.strata_for("self_run") == ["self_run", "hq"]
    assert sampling.strata_for(None) == ["franchised", "hq"]
    assert domain.caller_for("hq", "C01") == "HQ" and domain.caller_for("self_run", "C01") == "C01"
    assert domain.STRATUM_MODE == {"franchised": "own", "self_run": "sampled", "hq": "cross", "care": "own"}


def test_care_list_is_twenty_percent():
    ids = [f"t{i}" for i in range(37)]
    chosen = sampling.select_care_calls("seed", "2026-03", ids)
    assert len(chosen) == 7 and set(chosen) <= set(ids)  # round(7.4)
    assert chosen == sampling.select_care_calls("seed", "2026-03", list(reversed(ids)))
