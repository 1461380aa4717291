"""Offline geocoder (shared.geo.geocoder) and travel model (shared.geo.travel)."""

import csv
import json
from pathlib import Path

import pytest
from geopy.geocoders.base import Geocoder
from geopy.location import Location

from shared.geo import ChinaGeocoder, GeoResult, TravelModel, geocode_lines
from shared.geo.geocoder import gazetteer

REPO = Path(__file__).resolve().parents[2]


def _data(name: str) -> Path:
    for path in (REPO / "data" / name, REPO.parent / "shared" / "data" / "geo" / name):
        if path.exists():
            return path
    pytest.fail(f"{name} not found in data/ or ../shared/data/geo")


@pytest.fixture(scope="module")
def rows():
    with open(_data("service_requests_sample.csv"), encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def sites():
    with open(_data("centers_outlets.csv"), encoding="utf-8", newline="") as fh:
        return {r["site_id"]: r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def geocoder():
    return ChinaGeocoder()


@pytest.fixture(scope="module")
def parsed(rows, geocoder):
    return geocoder.parse_many([r["address"] for r in rows])


def _has_province_or_city(text: str, row) -> bool:
    short = lambda name: name.rstrip("省市")  # noqa: E731
    return any(n and (n in text or short(n) in text) for n in (row["province"], row["city"]))


# -- acceptance on the 300-row sample ---------------------------------------


def test_sample_has_300_rows(rows):
    assert len(rows) == 300


def test_province_and_city_match_truth(rows, parsed):
    clear = [(r, g) for r, g in zip(rows, parsed) if r["district_name_ambiguous"] == "False"]
    wrong = [(r["address"], g.province, g.city) for r, g in clear if (g.province, g.city) != (r["province"], r["city"])]
    assert len(wrong) <= 0.01 * len(clear), wrong
    assert wrong == []  # aim: 100 %


def test_adcode_matches_on_district_precision_rows(rows, parsed):
    wrong = [
        (r["address"], r["adcode"], g.adcode)
        for r, g in zip(rows, parsed)
        if r["coord_precision"] == "district" and r["district_name_ambiguous"] == "False" and g.adcode != r["adcode"]
    ]
    assert wrong == []
    # ambiguous names written with their city are resolved too
    amb_resolved = [(r, g) for r, g in zip(rows, parsed) if r["district_name_ambiguous"] == "True" and not g.ambiguous]
    assert amb_resolved
    for r, g in amb_resolved:
        assert g.adcode == r["adcode"], r["address"]


def test_seat_points_match(rows, parsed):
    clear = [(r, g) for r, g in zip(rows, parsed) if r["district_name_ambiguous"] == "False"]
    wrong = [
        (r["address"], g.lat, g.lon)
        for r, g in clear
        if not g.placed or abs(g.lat - float(r["seat_lat"])) > 1e-4 or abs(g.lon - float(r["seat_lon"])) > 1e-4
    ]
    assert len(wrong) <= 0.01 * len(clear), wrong
    assert wrong == []


def test_precision_matches_coord_precision(rows, parsed):
    for r, g in zip(rows, parsed):
        if not g.ambiguous:
            assert g.precision == r["coord_precision"], r["address"]


def test_ambiguous_rows_without_province_or_city_are_flagged(rows, parsed):
    flagged = 0
    for r, g in zip(rows, parsed):
        if r["district_name_ambiguous"] == "True" and not _has_province_or_city(r["address"], r):
            assert g.ambiguous, r["address"]
            assert not g.placed
            assert (g.province, g.city, g.district, g.adcode, g.lat, g.lon) == (None,) * 6
            assert any(c["adcode"] == r["adcode"] for c in g.candidates)
            flagged += 1
    assert flagged == 3  # 青山区…, 鼓楼区…, 市中区…


# -- single addresses --------------------------------------------------------


def test_qingshan_alone_is_ambiguous(geocoder):
    g = geocoder.parse("青山区")
    assert g.ambiguous and not g.placed
    assert {c["city"] for c in g.candidates} == {"武汉市", "包头市"}
    assert geocoder.geocode("青山区") is None


def test_wuhan_qingshan(geocoder):
    g = geocoder.parse("武汉市青山区")
    assert (g.province, g.city, g.district, g.adcode) == ("湖北省", "武汉市", "青山区", "420107")
    assert g.precision == "district" and not g.ambiguous and g.placed


def test_province_disambiguates(geocoder):
    g = geocoder.parse("湖北省青山区建设一路")
    assert (g.city, g.adcode) == ("武汉市", "420107")
    # two 鼓楼区 in 江苏 (南京, 徐州): still ambiguous
    g = geocoder.parse("江苏省鼓楼区")
    assert g.ambiguous and {c["city"] for c in g.candidates} == {"南京市", "徐州市"}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("浙江省杭州市临平区南苑街道", ("浙江省", "杭州市", "临平区", "330113", "city")),
        ("江苏省南通市海门区长江南路", ("江苏省", "南通市", "海门区", "320614", "city")),
        ("苏州工业园区星湖街", ("江苏省", "苏州市", "苏州工业园区", "320576", "city")),
        ("广东省东莞市长安镇", ("广东省", "东莞市", None, "441900", "city")),
        ("武汉东湖新技术开发区高新大道", ("湖北省", "武汉市", None, "420100", "city")),
        ("湖北省仙桃市沔州大道", ("湖北省", "仙桃市", "仙桃市", "429004", "district")),
        ("潜江市章华大道", ("湖北省", "潜江市", "潜江市", "429005", "district")),
        ("湖北省襄樊市樊城区人民路", ("湖北省", "襄阳市", "樊城区", "420606", "district")),
        ("山东省莱芜市莱城区凤城大街", ("山东省", "济南市", "莱芜区", "370116", "city")),
        ("湖北省武汉市某某路1号", ("湖北省", "武汉市", None, "420100", "city")),
        ("湖北省某某镇", ("湖北省", None, None, "420000", "province")),
        ("北京市朝阳区建国路", ("北京市", "北京市", "朝阳区", "110105", "district")),
    ],
)
def test_edge_cases(geocoder, text, expected):
    g = geocoder.parse(text)
    assert (g.province, g.city, g.district, g.adcode, g.precision) == expected
    assert g.placed and not g.ambiguous


def test_city_fallback_uses_prefecture_point(geocoder):
    gaz = gazetteer()
    g = geocoder.parse("杭州市临平区")
    hz = gaz.get("330100")
    assert (g.lat, g.lon) == (hz.lat, hz.lon)


def test_not_placed(geocoder):
    for text in ("", None, "某某路123号"):
        g = geocoder.parse(text)
        assert not g.placed and not g.ambiguous and g.precision is None
        assert geocoder.geocode(text or "x") is None


def test_geopy_interface(geocoder):
    assert isinstance(geocoder, Geocoder)
    loc = geocoder.geocode("江苏省南京市鼓楼区中山北路450号")
    assert isinstance(loc, Location)
    assert (round(loc.latitude, 6), round(loc.longitude, 6)) == (32.066601, 118.770182)
    assert loc.raw["adcode"] == "320106"
    assert loc.address == "江苏省南京市鼓楼区"
    many = geocoder.geocode("南京市鼓楼区", exactly_one=False)
    assert isinstance(many, list) and many[0].raw["district"] == "鼓楼区"


def test_to_dict_key_order():
    keys = list(GeoResult().to_dict())
    assert keys == ["province", "city", "district", "adcode", "lat", "lon", "precision", "ambiguous", "candidates"]


def test_geocode_lines():
    lines = list(geocode_lines(["武汉市青山区", "青山区"]))
    first, second = (json.loads(x) for x in lines)
    assert list(first) == ["province", "city", "district", "adcode", "lat", "lon", "precision", "ambiguous"]
    assert "湖北省" in lines[0]  # ensure_ascii=False
    assert second["ambiguous"] is True and len(second["candidates"]) == 2


def test_gazetteer_loaded_once():
    assert ChinaGeocoder().gaz is ChinaGeocoder().gaz


# -- travel model --------------------------------------------------------------


def test_travel_matches_example_heuristic(rows, sites):
    model = TravelModel()
    for r in rows:
        outlet = sites[r["exp_nearest_outlet_id"]]
        customer = (float(r["lat"]), float(r["lon"]))
        site = (float(outlet["lat"]), float(outlet["lon"]))
        assert model.hours(site, customer) == pytest.approx(float(r["exp_drive_h_from_nearest_outlet"]), abs=0.01), r[
            "request_id"
        ]
        assert model.geodesic_km(site, customer) == pytest.approx(float(r["exp_nearest_outlet_km"]), abs=0.06)


def test_travel_profile():
    m = TravelModel()
    assert m.hours_for_road_km(0) == pytest.approx(0.25)
    assert m.hours_for_road_km(20) == pytest.approx(0.25 + 20 / 30)
    assert m.hours_for_road_km(95) == pytest.approx(0.25 + 20 / 30 + 1.0)
    a, b = (30.0, 114.0), (30.5, 114.5)
    assert m.road_km(a, b) == pytest.approx(1.3 * m.geodesic_km(a, b))


def test_travel_config():
    m = TravelModel.from_config(
        {"detour_factor": 1.5, "speed_kmh": 60, "base_minutes": 0, "urban_km": 0, "urban_speed_kmh": 30}
    )
    a, b = (30.0, 114.0), (30.5, 114.5)
    assert m.hours(a, b) == pytest.approx(1.5 * m.geodesic_km(a, b) / 60)
    assert TravelModel.from_config({}) == TravelModel()
    with pytest.raises(ValueError, match="speed"):
        TravelModel.from_config({"speed": 60})
    with pytest.raises(ValueError):
        TravelModel(detour_factor=0.5)


def test_matrix_minutes(geocoder):
    m = TravelModel()
    wuhan = geocoder.parse("武汉市青山区")
    pts = [(30.619917, 114.137116), wuhan, {"lat": 30.5, "lon": 114.3}]
    mat = m.matrix_minutes(pts)
    assert len(mat) == 3 and all(len(row) == 3 for row in mat)
    assert all(mat[i][i] == 0 for i in range(3))
    assert all(isinstance(v, int) for row in mat for v in row)
    assert mat[0][1] == mat[1][0] >= 15
    assert mat[0][1] >= m.minutes(pts[0], (wuhan.lat, wuhan.lon))
    assert mat[0][1] - m.minutes(pts[0], (wuhan.lat, wuhan.lon)) < 1
