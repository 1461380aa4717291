"""Callback sampling (回访抽查): which completed jobs each sampler calls back, exact over the
sampler's whole population of a period.

Seed 004: 三级回访制度(特约点服务用户100%回访、自办点进行50%抽查回访、总部实行20%抽查回访);
每月按20%比例电话慰问用户. A percentage holds over what the sampler covers, a center's month, not
over each outlet's month: rounded per outlet, 20% of an outlet's one or two jobs is 0, and HQ would
call nobody where outlets are small. So a sampler's month holds ``round_half_up(rate x jobs)``
callbacks over all the outlets it covers (`quota`), shared among the outlets by largest remainder
(`allocate`):

- an outlet's entitlement is ``rate x its jobs``; each new slot goes to the outlet furthest below
  it. Given at once this is Hamilton's largest-remainder apportionment; given as jobs arrive, the
  sample is exact after every arrival and a planned callback is never withdrawn;
- what an outlet was entitled to and not given in the earlier months (`carry`, the sampler's last
  `CARRY_MONTHS`) counts towards its claim, so an outlet with one job a month is sampled in turn
  rather than never (its 0.2 adds up month by month until it wins a slot);
- ties are broken by a rotation keyed on the seed, the sampler and the period (`rotation_key`), so
  equal outlets take turns from month to month; within an outlet the job with the lowest keyed
  hash (`sample_key`) is taken.

Pure and reproducible: no global random; the same seed, jobs and order give the same sample.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

FRANCHISED, SELF_RUN, HQ_SAMPLE, CARE = "franchised", "self_run", "hq", "care"
#: the share of the completed jobs each sampler calls back, over its population of a month (seed 004)
QUOTAS = {FRANCHISED: Decimal("1.00"), SELF_RUN: Decimal("0.50"), HQ_SAMPLE: Decimal("0.20")}
CARE_QUOTA = Decimal("0.20")  # 每月按20%比例电话慰问用户
#: how many earlier months an outlet's unsampled entitlement is carried over
CARRY_MONTHS = 12


def quota(rate: Decimal, population: int) -> int:
    """How many of `population` jobs a sampler calls back: rate x n rounded half up."""
    return int((Decimal(population) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def strata_for(outlet_kind: str | None) -> list[str]:
    """The samplers a job of this outlet falls into: its own tier plus HQ's sample. An outlet QA
    does not know counts as franchised (the strictest tier, 100%)."""
    own = SELF_RUN if outlet_kind == SELF_RUN else FRANCHISED
    return [own, HQ_SAMPLE]


def covers(stratum: str, outlet_kind: str | None) -> bool:
    """Whether a sampler's population holds the jobs of an outlet of this kind."""
    return stratum in strata_for(outlet_kind)


def sample_key(seed: str, stratum: str, item_id: str) -> str:
    """The keyed hash that ranks jobs for sampling: reproducible for a seed, unpredictable without it."""
    return hashlib.sha256(f"{seed}|{stratum}|{item_id}".encode()).hexdigest()


def rotation_key(seed: str, stratum: str, period: str, outlet_id: str) -> str:
    """The order in which outlets with equal claims take a slot: a new order every period."""
    return hashlib.sha256(f"{seed}|{stratum}|{period}|{outlet_id}".encode()).hexdigest()


def pick(seed: str, stratum: str, rate: Decimal, population: list[str], selected: set[str]) -> list[str]:
    """The items to add to one undivided population's sample so it reaches its quota: the
    unselected ones with the lowest keyed hash (a planned callback stays)."""
    need = quota(rate, len(population)) - len(selected)
    if need <= 0:
        return []
    return ranked(seed, stratum, (job for job in population if job not in selected))[:need]


def ranked(seed: str, stratum: str, jobs: Iterable[str]) -> list[str]:
    """Jobs in the order a sampler takes them: lowest keyed hash first."""
    return sorted(jobs, key=lambda job: (sample_key(seed, stratum, job), job))


@dataclass(frozen=True)
class OutletJobs:
    """One outlet's part of a sampler's period: its jobs, those already selected, and the
    entitlement it carries from earlier periods (negative: sampled beyond it)."""

    outlet_id: str
    jobs: tuple[str, ...]
    selected: frozenset[str] = frozenset()
    carry: Decimal = Decimal(0)


def carry(rate: Decimal, history: Iterable[tuple[str, int, int]]) -> dict[str, Decimal]:
    """Each outlet's entitlement left over from earlier periods: the sum of ``rate x jobs -
    selected`` over its (outlet, jobs, selected) rows."""
    out: dict[str, Decimal] = {}
    for outlet_id, jobs, selected in history:
        out[outlet_id] = out.get(outlet_id, Decimal(0)) + rate * jobs - selected
    return out


def allocate(rate: Decimal, outlets: Iterable[OutletJobs], *, seed: str, stratum: str, period: str) -> list[str]:
    """The jobs to add to a sampler's period so it holds ``quota(rate, all its jobs)`` callbacks.

    Each missing slot goes to the outlet with the largest claim (carry + rate x jobs - selected)
    that still has an unselected job, ties by `rotation_key`; the outlet's job with the lowest
    `sample_key` is taken. Returned in the order taken."""
    parts = [part for part in outlets if part.jobs]
    need = quota(rate, sum(len(part.jobs) for part in parts)) - sum(len(part.selected) for part in parts)
    claims = {part.outlet_id: part.carry + rate * len(part.jobs) - len(part.selected) for part in parts}
    waiting = {part.outlet_id: ranked(seed, stratum, set(part.jobs) - part.selected) for part in parts}
    order = {part.outlet_id: rotation_key(seed, stratum, period, part.outlet_id) for part in parts}
    chosen: list[str] = []
    for _ in range(max(need, 0)):
        open_ = [outlet for outlet, jobs in waiting.items() if jobs]
        if not open_:
            break
        outlet = min(open_, key=lambda o: (-claims[o], order[o], o))
        chosen.append(waiting[outlet].pop(0))
        claims[outlet] -= 1
    return chosen


def previous_periods(period: str, count: int = CARRY_MONTHS) -> list[str]:
    """The `count` months before `period` (``YYYY-MM``), earliest first."""
    year, month = (int(x) for x in period.split("-"))
    out = []
    for _ in range(count):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        out.append(f"{year:04d}-{month:02d}")
    return out[::-1]


@dataclass
class StratifiedSampler:
    """In-memory form of the planning rule, jobs given as they arrive (the service keeps the same
    state in its tables): one population per (sampler, tenant, period), divided by outlet."""

    seed: str
    # (stratum, tenant, period) -> {outlet: [visit ids]}
    population: dict[tuple[str, str, str], dict[str, list[str]]] = field(default_factory=dict)
    # (stratum, tenant, period) -> {outlet: {visit ids}}
    selected: dict[tuple[str, str, str], dict[str, set[str]]] = field(default_factory=dict)

    def add(
        self, visit_id: str, outlet_id: str, period: str, outlet_kind: str | None, tenant_id: str = "C01"
    ) -> dict[str, list[str]]:
        """Record a completed job; returns, per stratum, the jobs newly selected for a callback."""
        out = {}
        for stratum in strata_for(outlet_kind):
            key = (stratum, tenant_id, period)
            self.population.setdefault(key, {}).setdefault(outlet_id, []).append(visit_id)
            chosen = self.selected.setdefault(key, {})
            carried = carry(QUOTAS[stratum], self.history(stratum, tenant_id, period))
            new = allocate(
                QUOTAS[stratum],
                [
                    OutletJobs(outlet, tuple(jobs), frozenset(chosen.get(outlet, ())), carried.get(outlet, Decimal(0)))
                    for outlet, jobs in self.population[key].items()
                ],
                seed=self.seed,
                stratum=stratum,
                period=period,
            )
            owner = {job: outlet for outlet, jobs in self.population[key].items() for job in jobs}
            for job in new:
                chosen.setdefault(owner[job], set()).add(job)
            if new:
                out[stratum] = new
        return out

    def history(self, stratum: str, tenant_id: str, period: str) -> list[tuple[str, int, int]]:
        """(outlet, jobs, selected) of the sampler's earlier periods that are carried over."""
        rows = []
        for earlier in previous_periods(period):
            key = (stratum, tenant_id, earlier)
            for outlet, jobs in self.population.get(key, {}).items():
                rows.append((outlet, len(jobs), len(self.selected.get(key, {}).get(outlet, ()))))
        return rows

    def sample(self, stratum: str, tenant_id: str, period: str) -> dict[str, set[str]]:
        return self.selected.get((stratum, tenant_id, period), {})


def outlet_parts(
    jobs_by_outlet: Mapping[str, Iterable[str]], selected: Iterable[tuple[str, str]], carried: Mapping[str, Decimal]
) -> list[OutletJobs]:
    """`OutletJobs` from {outlet: jobs}, (outlet, selected job) pairs and the carried entitlements."""
    chosen: dict[str, set[str]] = {}
    for outlet, job in selected:
        chosen.setdefault(outlet, set()).add(job)
    return [
        OutletJobs(outlet, tuple(jobs), frozenset(chosen.get(outlet, ())), carried.get(outlet, Decimal(0)))
        for outlet, jobs in sorted(jobs_by_outlet.items())
    ]


def select_care_calls(seed: str, month: str, ticket_ids: list[str], rate: Decimal = CARE_QUOTA) -> list[str]:
    """每月按20%比例电话慰问用户: round(20% x customers served) of one undivided list, by keyed hash."""
    return pick(seed, f"{CARE}:{month}", rate, sorted(set(ticket_ids)), set())
