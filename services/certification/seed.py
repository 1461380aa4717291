"""Start-up data: the outlets of `shared/data/tenants.yaml` (effective or on probation, with an
agreement on file), the technicians of `shared/data/technicians.csv` with their certificates
(the same ids dispatch loads), and the network-planning sample (installed base, repair rates).

Idempotent: only what is missing is added, so every start (and every replica) may run it.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import asdict
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.certification import domain
from services.certification.models import Certificate, GradeRecord, InstalledBase, Outlet, RepairRate, Technician
from shared import tenancy
from shared.db import utcnow
from shared.errors import ValidationFailed

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
TECHNICIANS_FILE = REPO / "shared" / "data" / "technicians.csv"
DATA = Path(__file__).resolve().parent / "data"
INSTALLED_BASE_FILE = DATA / "installed_base.csv"
REPAIR_RATES_FILE = DATA / "repair_rates.csv"

SEEDED_STATUSES = ("effective", "probation", "suspended")
SEED_AGREEMENT_FROM = date(2024, 1, 1)
SEED_AGREEMENT_TO = date(2027, 12, 31)


def read_technicians(path) -> list[dict]:
    with open(path, encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for n, row in enumerate(rows, start=2):
        certs = {}
        for part in (row.get("certificates") or "").split("|"):
            if not part.strip():
                continue
            line, _, until = part.partition("=")
            try:
                certs[line.strip()] = date.fromisoformat(until.strip())
            except ValueError:
                raise ValidationFailed(
                    f"{path}:{n}: bad certificate date",
                    {"certificates": [f"line {n}: {part!r} is not line=YYYY-MM-DD"]},
                ) from None
        out.append(
            {
                "id": row["id"],
                "tenant_id": row["tenant_id"],
                "outlet_id": row.get("outlet_id") or None,
                "name": row["name"],
                "skills": [s for s in (row.get("skills") or "").split("|") if s],
                "certificates": certs,
            }
        )
    return out


def read_installed_base(path) -> list[dict]:
    """tenant_id, province, city, district, model, product_line, installed, planned_sales."""
    rows = []
    with open(path, encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            try:
                installed, planned = int(row["installed"]), int(row.get("planned_sales") or 0)
            except (TypeError, ValueError):
                raise ValidationFailed(
                    f"{path}:{n}: installed and planned_sales must be whole numbers", {"installed": [f"line {n}"]}
                ) from None
            if installed < 0 or planned < 0:
                raise ValidationFailed(f"{path}:{n}: negative count", {"installed": [f"line {n}: must be >= 0"]})
            rows.append(
                {k: row[k].strip() for k in ("tenant_id", "province", "city", "district", "model", "product_line")}
                | {"installed": installed, "planned_sales": planned}
            )
    return rows


def read_repair_rates(path) -> dict[str, tuple[str, Decimal]]:
    rates = {}
    with open(path, encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            try:
                rate = Decimal(row["repair_rate"])
            except (InvalidOperation, TypeError):
                raise ValidationFailed(
                    f"{path}:{n}: repair_rate is not a number", {"repair_rate": [f"line {n}"]}
                ) from None
            if not Decimal(0) <= rate <= Decimal(5):
                raise ValidationFailed(f"{path}:{n}: repair_rate out of range", {"repair_rate": [f"line {n}"]})
            rates[row["model"].strip()] = (row["product_line"].strip(), rate)
    return rates


def seed(store, directory, config) -> dict:
    """Add whatever of the start-up data is missing. Returns what was added."""
    principal = tenancy.service_principal("certification")
    now = utcnow()
    today = domain.local_date(now)
    techs = read_technicians(config.get("CERTIFICATION_TECHNICIANS_FILE") or TECHNICIANS_FILE)
    lines_by_outlet = {}
    for t in techs:
        if t["outlet_id"]:
            lines_by_outlet.setdefault(t["outlet_id"], set()).update(t["skills"])
    job_limit = int(config.get("CERTIFICATION_PROBATION_JOB_LIMIT", 5))
    added = {"outlets": 0, "technicians": 0, "certificates": 0, "installed_base": 0, "repair_rates": 0}
    try:
        with store.uow(principal, {"principal": principal.encode()}) as uow:
            s = uow.session
            have = set(s.scalars(select(Outlet.id)))
            for o in directory.outlets.values():
                if o.id in have or o.status not in SEEDED_STATUSES:
                    continue
                agreement = {
                    "number": f"SQ-{o.id}",
                    "valid_from": SEED_AGREEMENT_FROM.isoformat(),
                    "valid_to": SEED_AGREEMENT_TO.isoformat(),
                    "terms": "特约服务协议 (on file before the platform; seeded from tenants.yaml)",
                }
                probation_until = None
                if o.status == "probation":
                    start = domain.add_months(today, -1)
                    agreement["valid_from"] = start.isoformat()
                    probation_until = domain.probation_end(start)
                s.add(
                    Outlet(
                        id=o.id,
                        tenant_id=o.center,
                        name=o.name,
                        kind=o.kind,
                        status=o.status,
                        grade=o.grade,
                        province=o.province,
                        city=o.city,
                        district=o.district,
                        address=o.address,
                        lat=o.lat,
                        lon=o.lon,
                        legal_entity=o.legal_entity,
                        bank_account=asdict(o.bank_account) if o.bank_account else None,
                        product_lines=sorted(lines_by_outlet.get(o.id, ())),
                        registration={"name": o.name, "premises": {"address": o.address}, "seeded": True},
                        agreement=agreement,
                        probation_until=probation_until,
                        job_limit=job_limit if o.status == "probation" else None,
                        seeded=True,
                        created_at=now,
                        updated_at=now,
                    )
                )
                if o.grade:
                    s.add(GradeRecord(tenant_id=o.center, outlet_id=o.id, grade=o.grade, source="seed", at=now))
                added["outlets"] += 1
            have_t = set(s.scalars(select(Technician.id)))
            for t in techs:
                if t["id"] in have_t:
                    continue
                s.add(
                    Technician(
                        id=t["id"],
                        tenant_id=t["tenant_id"],
                        outlet_id=t["outlet_id"],
                        name=t["name"],
                        skills=t["skills"],
                        active=True,
                        created_at=now,
                    )
                )
                for line, until in t["certificates"].items():
                    issued = (
                        until.replace(year=until.year - domain.CERTIFICATE_YEARS)
                        if not (until.month == 2 and until.day == 29)
                        else until.replace(year=until.year - domain.CERTIFICATE_YEARS, day=28)
                    )
                    status = "expired" if domain.is_expired(until, today) else "valid"
                    s.add(
                        Certificate(
                            id=f"{t['id']}:{line}:{until.isoformat()}",
                            tenant_id=t["tenant_id"],
                            technician_id=t["id"],
                            outlet_id=t["outlet_id"],
                            product_line=line,
                            issued_on=issued,
                            valid_until=until,
                            status=status,
                            reason="seeded from technicians.csv",
                        )
                    )
                    added["certificates"] += 1
                added["technicians"] += 1
            if not s.scalar(select(func.count()).select_from(RepairRate)):
                for model, (line, rate) in read_repair_rates(
                    config.get("CERTIFICATION_REPAIR_RATES_FILE") or REPAIR_RATES_FILE
                ).items():
                    s.add(RepairRate(model=model, product_line=line, rate=rate))
                    added["repair_rates"] += 1
            if not s.scalar(select(func.count(InstalledBase.id))):
                for row in read_installed_base(config.get("CERTIFICATION_INSTALLED_BASE_FILE") or INSTALLED_BASE_FILE):
                    s.add(InstalledBase(**row))
                    added["installed_base"] += 1
            uow.commit()
    except IntegrityError:  # another replica seeded at the same moment
        log.info("certification seed raced with another process; nothing added here")
        return {k: 0 for k in added}
    if any(added.values()):
        log.info("certification seeded %s", added)
    return added
