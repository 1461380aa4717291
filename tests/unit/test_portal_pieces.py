"""The portal's pure pieces: where a sign-in may send you, whose address a failure counts
against, errors next to their fields (in Chinese), countdowns and the route drawing."""

from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway.portal.forms import GENERAL, Form, flatten
from services.gateway.portal.messages import zh
from services.gateway.portal.routemap import HEIGHT, WIDTH, route_map
from services.gateway.portal.web import client_address, countdown, login_location, over_tls, safe_next
from shared.errors import ValidationFailed


@pytest.mark.parametrize(
    "value, expected",
    [
        ("/outlet/jobs", "/outlet/jobs"),
        ("/outlet/jobs?day=2", "/outlet/jobs?day=2"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/a\nb", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_next_is_only_ever_a_path_of_this_site(value, expected):
    assert safe_next(value) == expected


def request(path="/", headers=None, remote="192.0.2.7", scheme="http"):
    env = EnvironBuilder(path=path, headers=headers or {}, environ_base={"REMOTE_ADDR": remote}).get_environ()
    env["wsgi.url_scheme"] = scheme
    return Request(env)


def test_login_redirect_keeps_the_page_and_its_query():
    assert login_location(request("/outlet/jobs")) == "/login?next=/outlet/jobs"
    assert login_location(request("/outlet/jobs?day=2")) == "/login?next=/outlet/jobs%3Fday%3D2"
    assert login_location(request("/")) == "/login"


def test_the_client_address_trusts_only_the_configured_proxies():
    forwarded = {"X-Forwarded-For": "203.0.113.9, 198.51.100.1"}
    assert client_address(request(headers=forwarded), 0) == "192.0.2.7"  # a header anyone can send
    assert client_address(request(headers=forwarded), 1) == "198.51.100.1"
    assert client_address(request(headers=forwarded), 2) == "203.0.113.9"


def test_tls_directly_or_said_by_the_proxy():
    assert not over_tls(request())
    assert over_tls(request(scheme="https"))
    assert over_tls(request(headers={"X-Forwarded-Proto": "https"}))


def test_a_services_field_errors_land_next_to_the_fields_in_chinese():
    form = Form(("lat", "quantity", "work_done"))
    form.take(
        ValidationFailed(
            "invalid",
            {
                "lat": ["Outside mainland China."],
                "parts_used": {"0": {"quantity": ["Must be greater than or equal to 1."]}},
                "work_done": ["Missing data for required field."],
                "nope": ["Unknown field."],
            },
        ),
        aliases={"parts_used.0.quantity": "quantity"},
    )
    assert form.errors_of("lat") == ["位置不在中国大陆范围内"]
    assert form.errors_of("quantity") == ["不能小于 1"]
    assert form.errors_of("work_done") == ["必填"]
    assert form.errors[GENERAL] == ["nope：未知字段"]  # a field the form does not have: above it
    assert not form.ok


def test_an_error_without_fields_is_shown_above_the_form():
    form = Form(("a",)).take(ValidationFailed("the visit is not started", {}))
    assert form.general_errors == ["the visit is not started"]  # unknown text is shown as it is


def test_flatten_and_translation_leave_unknown_text_alone():
    assert flatten({"a": {"b": ["x"]}, "c": [{"d": ["y"]}]}) == {"a.b": ["x"], "c.0.d": ["y"]}
    assert zh("Length must be between 1 and 64.") == "长度应在 1 到 64 之间"
    assert zh("something new") == "something new"


def test_payload_strips_drops_empty_and_converts():
    form = Form(("lat", "lon", "note"), {"lat": " 30.5 ", "lon": "abc", "note": "  "})
    assert form.payload(lat=float, lon=float) == {"lat": 30.5, "lon": "abc"}  # the service names "abc"


def test_countdown_says_time_left_or_overdue():
    now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    assert countdown(now + timedelta(hours=2, minutes=5), now) == "还剩 2 小时 5 分"
    assert countdown((now - timedelta(minutes=40)).isoformat(), now) == "已超时 40 分"
    assert countdown(now + timedelta(days=1, hours=3, minutes=1), now) == "还剩 1 天 3 小时"
    assert countdown(None, now) == ""


def test_the_route_map_keeps_every_point_in_the_box_in_route_order():
    routes = [
        {
            "name": "张工",
            "home": (30.39, 114.89),
            "stops": [{"lat": 30.52, "lon": 114.40, "title": "a"}, {"lat": 30.60, "lon": 114.30, "title": "b"}],
        },
        {"name": "李工", "home": None, "stops": [{"lat": 30.45, "lon": 114.80, "title": "c", "late": True}]},
    ]
    drawn = route_map(routes)
    assert drawn is not None and drawn.view_box == f"0 0 {WIDTH} {HEIGHT}"
    first, second = drawn.tracks
    assert [s.number for s in first.stops] == [1, 2] and second.stops[0].late and drawn.any_late
    assert first.colour != second.colour and "#c62828" not in (first.colour, second.colour)  # red: overdue only
    points = [first.home] + [(s.x, s.y) for t in drawn.tracks for s in t.stops]
    assert all(0 <= x <= WIDTH and 0 <= y <= HEIGHT for x, y in points)
    # east is right, north is up
    assert first.home[0] > first.stops[0].x and first.stops[1].y < first.stops[0].y
    assert len(first.points.split()) == 3 and drawn.scale_px > 0
    assert route_map([{"name": "x", "home": None, "stops": [{"lat": None, "lon": None}]}]) is None


def test_every_route_of_every_gateway_mixin_is_mounted():
    """Two mixins with a method of the same name: the second's route would silently vanish
    (nameko takes the attribute the class resolves). Page handlers are named ``..._page``."""
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

    from services.gateway.service import GatewayService

    lost = [
        f"{base.__name__}.{name}"
        for base in GatewayService.__mro__[1:]
        for name, member in vars(base).items()
        if hasattr(member, ENTRYPOINT_EXTENSIONS_ATTR) and getattr(GatewayService, name) is not member
    ]
    assert not lost, lost
