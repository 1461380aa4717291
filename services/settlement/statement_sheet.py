"""The monthly statement as its reader sees it (网点服务费月结算单): what the PDF and the XLSX
print, worked out from the issued statement, the outlet's facts in the tenant directory and the
tariff versions. Pure rules: no nameko, no session, no file format (`documents` draws it).

- times in local time (Asia/Shanghai) to the minute, ``2026-12-03 14:05``, never UTC ISO;
- each tariff line by its name (工时费 · 数控车床 · 维修(电气故障)), after the version it is from;
- the payee: the outlet's legal entity and bank account (户名, 开户行, 账号 in groups of four);
- subtotals per kind, the total, and the total in capital figures (大写), as Chinese vouchers
  write it (《支付结算办法》: 整 after 元 or 角, none after 分).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.settlement.domain import local_minute
from shared.tenants import Outlet

TITLE = "网点服务费月结算单"
TITLE_EN = "Outlet service fee statement"
NOT_ON_FILE = "未登记 (not on file)"

KIND_NAMES = {
    "claim": "服务费",
    "hold_released": "服务费(解除暂扣)",
    "adjustment": "审核调整",
    "self_paid_share": "自费分成",
    "deduction": "考核扣款",
}
STATUS_NAMES = {"issued": "已出具 issued", "partially_paid": "部分付款 partially paid", "paid": "已付清 paid"}
ENTRY_NAMES = {
    "labour": "工时费",
    "visit_fee": "上门费",
    "transport_bands": "交通费",
    "travel_allowance_per_day": "出差补助",
    "travel_km_per_day": "出差里程",
    "parts_handling_fee": "配件装卸费",
    "grade_coefficient": "网点等级系数",
    "self_paid_outlet_share": "自费分成比例",
    "sla_deductions": "超时考核扣款",
    "late_part_return_fee": "旧件逾期返还扣款",
    "part_return_grace_days": "旧件返还宽限期",
    "unreturned_part_value": "旧件未返还扣款",
}
LABOUR_KINDS = {"install": "安装", "maintenance": "保养", "repair": "维修"}
FAULT_CLASSES = {
    "electrical": "电气故障",
    "mechanical": "机械故障",
    "hydraulic_thermal": "液压/热工故障",
    "general": "一般故障",
}
SLA_NAMES = {
    "accept": "受理超时",
    "phone_reply": "电话回复超时",
    "onsite": "上门超时",
    "forward": "转派超时",
    "complaint_plan": "投诉处理方案超时",
    "complaint_close": "投诉结案超时",
}
AUDIT_LEVELS = {"center": "中心", "technical_lead": "技术主管", "hq": "总部"}
# the basis of a line that cites no tariff entry: an adjustment's "tariff" (cap) or "audit"
BASIS_NAMES = {"tariff": "结算标准封顶", "audit": "审核意见"}

DIGITS = "零壹贰叁肆伍陆柒捌玖"
SMALL_UNITS = ("仟", "佰", "拾", "")
BIG_UNITS = ("", "万", "亿", "万亿")


@dataclass(frozen=True)
class Payee:
    """Who is paid and where: 户名, 开户行, 账号 (grouped by four digits for reading aloud)."""

    holder: str
    bank: str
    account_no: str


@dataclass(frozen=True)
class SheetLine:
    seq: int
    kind: str  # 类别, in Chinese
    ref: str  # the claim, RMA or ticket the line is about
    what: str  # 说明, in Chinese, from the line's kind and rule
    detail: str  # the statement line's own description
    basis: str  # 结算标准: the tariff entries by name, after their version
    amount: Decimal


@dataclass(frozen=True)
class StatementSheet:
    number: str
    title: str
    period: str  # 2026年11月 (2026-11-01 至 2026-11-30)
    outlet: str  # 襄阳新阳特约服务站 (C01-O01)
    outlet_name: str
    issuer: str  # the regional center that issues it
    issued_at: str  # local time to the minute
    issued_by: str
    status: str
    payee: Payee
    lines: tuple[SheetLine, ...]
    subtotals: tuple[tuple[str, Decimal], ...]  # (label, amount) of each kind present
    total: Decimal
    total_in_words: str  # 人民币壹仟陆佰伍拾壹元伍角整
    direction: str  # who pays whom: the center the outlet, or the outlet the center
    paid: Decimal
    outstanding: Decimal
    payments: tuple[tuple[str, str, Decimal], ...]  # (local time, reference, amount)


# ---------------------------------------------------------------- the pieces
def local_stamp(at: datetime | str) -> str:
    """An instant (or its ISO text, as the API gives it) as the reader's clock shows it:
    ``2026-12-03 14:05`` (`domain.local_minute`)."""
    return local_minute(datetime.fromisoformat(at) if isinstance(at, str) else at)


def period(month: str) -> str:
    """``2026-11`` -> ``2026年11月 (2026-11-01 至 2026-11-30)``."""
    year, mon = (int(p) for p in month.split("-"))
    last = calendar.monthrange(year, mon)[1]
    return f"{year}年{mon}月 ({month}-01 至 {month}-{last:02d})"


def account_groups(account_no: str) -> str:
    """``4843457913485383059`` -> ``4843 4579 1348 5383 059``."""
    digits = account_no.replace(" ", "")
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _section(n: int) -> str:
    """0 < n < 10000 in capitals, a zero inside written once (壹仟零壹拾)."""
    out, zero = "", False
    for digit, unit in zip(f"{n:04d}", SMALL_UNITS, strict=True):
        if digit == "0":
            zero = bool(out)
            continue
        out += ("零" if zero else "") + DIGITS[int(digit)] + unit
        zero = False
    return out


def _integer(n: int) -> str:
    if n == 0:
        return "零"
    sections = []
    while n:
        sections.append(n % 10000)
        n //= 10000
    if len(sections) > len(BIG_UNITS):
        raise ValueError("amount too large for capital figures")
    out, zero = "", False
    for i in reversed(range(len(sections))):
        s = sections[i]
        if s == 0:
            zero = bool(out)
            continue
        if out and (zero or s < 1000):
            out += "零"
        out += _section(s) + BIG_UNITS[i]
        zero = False
    return out


def rmb_capitals(amount: Decimal) -> str:
    """An amount in capital figures (人民币大写): 1651.50 -> 人民币壹仟陆佰伍拾壹元伍角整;
    1651.05 -> …元零伍分; 0.50 -> 人民币伍角整; a negative amount starts with 负."""
    fen = int((abs(amount) * 100).to_integral_value())
    yuan, jiao, cents = fen // 100, fen // 10 % 10, fen % 10
    sign = "负" if amount < 0 and fen else ""
    if not fen:
        return "人民币零元整"
    out = _integer(yuan) + "元" if yuan else ""
    if jiao:
        out += DIGITS[jiao] + "角"
    elif cents and yuan:
        out += "零"
    out += DIGITS[cents] + "分" if cents else "整"
    return f"人民币{sign}{out}"


def _band(body: Mapping[str, Any] | None, index: int) -> str:
    bands = (body or {}).get("transport_bands") or []
    if not 0 <= index < len(bands):
        return f"第{index + 1}档"
    low = bands[index - 1].get("up_to_km") if index else 0
    high = bands[index].get("up_to_km")
    return f"{low}公里以上" if high is None else f"{low}–{high}公里"


def tariff_entry_name(line_id: str, versions: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[str, str]:
    """(version, name) of a tariff line ``<version>:<entry path>``: ``HQ-2026:labour/数控车床/
    repair/electrical`` -> (HQ-2026, 工时费·数控车床·维修(电气故障)); a part's own cost
    ``parts:unit_cost/<part>`` -> ("", 配件成本价 <part>). `versions` (id -> body) gives a
    transport band's distances."""
    if line_id in BASIS_NAMES:
        return "", BASIS_NAMES[line_id]
    source, sep, path = line_id.partition(":")
    if not sep:
        return "", line_id
    entry, *rest = path.split("/")
    if source == "parts" and entry == "unit_cost":
        return "", f"配件成本价 {'/'.join(rest)}".rstrip()
    name = ENTRY_NAMES.get(entry, entry)
    if entry == "labour" and rest:
        product = "其他机型" if rest[0] == "_default" else rest[0]
        kind = LABOUR_KINDS.get(rest[1], rest[1]) if len(rest) > 1 else ""
        fault = f"({FAULT_CLASSES.get(rest[2], rest[2])})" if len(rest) > 2 else ""
        name = "·".join(p for p in (name, product, kind + fault) if p)
    elif entry == "transport_bands" and rest and rest[0].isdigit():
        name = f"{name}({_band((versions or {}).get(source), int(rest[0]))})"
    elif entry == "sla_deductions" and rest:
        name = f"{name}·{SLA_NAMES.get(rest[0], rest[0])}"
    elif rest:
        name = f"{name}·{'/'.join(rest)}"
    return source, name


def basis(tariff_line: str, versions: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """A line's comma-separated tariff lines by name, each version named once before its entries:
    ``HQ-2026: 工时费·数控车床·维修(电气故障)；上门费；交通费(10–30公里)``."""
    grouped: dict[str, list[str]] = {}
    for line_id in (p.strip() for p in tariff_line.split(",")):
        if line_id:
            version, name = tariff_entry_name(line_id, versions)
            grouped.setdefault(version, []).append(name)
    return "；".join(f"{v}: {'；'.join(names)}" if v else "；".join(names) for v, names in grouped.items())


def line_meaning(kind: str, rule: str) -> str:
    """说明 of a statement line in Chinese, from its kind and rule."""
    if kind in ("claim", "hold_released"):
        return "上门服务费(暂扣已解除)" if kind == "hold_released" else "上门服务费"
    if kind == "self_paid_share":
        return "自费服务: 中心分成, 网点应付"
    if rule == "tariff_cap":
        return "申报超出结算标准, 按标准核减"
    if rule.startswith("audit:"):
        level = rule.partition(":")[2]
        return f"{AUDIT_LEVELS.get(level, level)}审核调整"
    if rule.startswith("sla_breach"):
        sla = rule.partition(":")[2]
        return f"超时考核扣款({SLA_NAMES.get(sla, sla)})" if sla else "超时考核扣款"
    if rule == "late_part_return":
        return "旧件逾期返还扣款"
    if rule == "part_not_returned":
        return "旧件未返还, 按价值扣款"
    return KIND_NAMES.get(kind, kind)


def direction(total: Decimal) -> str:
    """Who pays whom: a positive total is the center's to pay, a negative one the outlet's
    (a self-paid job's share and deductions above its fees)."""
    if total > 0:
        return "中心应付网点 payable to the outlet"
    if total < 0:
        return "网点应付中心 the outlet owes the center"
    return "无应付款项 nothing to pay"


def _subtotals(lines: Iterable[SheetLine]) -> tuple[tuple[str, Decimal], ...]:
    groups = (
        ("服务费 Service fees", ("服务费", "服务费(解除暂扣)")),
        ("审核调整 Adjustments", ("审核调整",)),
        ("自费分成 Self-paid shares", ("自费分成",)),
        ("考核扣款 Deductions", ("考核扣款",)),
    )
    lines = list(lines)
    out = []
    for label, kinds in groups:
        amounts = [line.amount for line in lines if line.kind in kinds]
        if amounts:
            out.append((label, sum(amounts, Decimal("0.00"))))
    return tuple(out)


# ---------------------------------------------------------------- the sheet
def statement_sheet(
    st: Mapping[str, Any],
    outlet: Outlet | None,
    issuer: str | None,
    versions: Mapping[str, Mapping[str, Any]] | None = None,
) -> StatementSheet:
    """The sheet of an issued statement (`queries.statement_out` with its lines), for the outlet
    as the directory knows it (None: only its id is known) and the center that issues it."""
    lines = tuple(
        SheetLine(
            seq=int(line["seq"]),
            kind=KIND_NAMES.get(line["kind"], line["kind"]),
            ref=line["ref"],
            what=line_meaning(line["kind"], line["rule"]),
            detail=line["description"],
            basis=basis(line["tariff_line"], versions),
            amount=Decimal(line["amount"]),
        )
        for line in st["lines"]
    )
    account = outlet.bank_account if outlet else None
    payee = (
        Payee(account.holder, account.bank, account_groups(account.account_no))
        if account
        else Payee((outlet.legal_entity if outlet else None) or NOT_ON_FILE, NOT_ON_FILE, NOT_ON_FILE)
    )
    name = outlet.name if outlet else st["outlet_id"]
    total = Decimal(st["total"])
    return StatementSheet(
        number=st["id"],
        title=TITLE,
        period=period(st["month"]),
        outlet=f"{name} ({st['outlet_id']})" if outlet else name,
        outlet_name=name,
        issuer=issuer or st["tenant_id"],
        issued_at=local_stamp(st["issued_at"]),
        issued_by=st["issued_by"],
        status=STATUS_NAMES.get(st["status"], st["status"]),
        payee=payee,
        lines=lines,
        subtotals=_subtotals(lines),
        total=total,
        total_in_words=rmb_capitals(total),
        direction=direction(total),
        paid=Decimal(st["paid"]),
        outstanding=Decimal(st["outstanding"]),
        payments=tuple(
            (local_stamp(p["paid_at"]), p["reference"], Decimal(p["amount"])) for p in st.get("payments") or ()
        ),
    )
