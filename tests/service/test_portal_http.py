"""Signing in over HTTP (real broker, the gateway's SQLite database): the API's login, the
portal's cookies, CSRF, redirects, roles and tenancy, without a browser (tests/browser drives one)."""

from __future__ import annotations

import re

import jwt
import requests

from tests.portal_fixtures import *  # noqa: F401,F403
from tests.portal_fixtures import API, PASSWORD, add_account, plan_outlet_visits

LOGIN = f"{API}/auth/login"


def csrf_of(html):
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def signed_in(platform, username, password=PASSWORD, **headers):
    """A browser-like session signed in through the login form."""
    s = requests.Session()
    page = s.get(platform.base_url + "/login", timeout=30)
    r = s.post(
        platform.base_url + "/login",
        data={"csrf_token": csrf_of(page.text), "username": username, "password": password},
        headers=headers,
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303, r.text[:800]
    return s, r


def test_the_api_login_gives_a_token_the_api_takes_and_is_throttled(portal_platform):
    p = portal_platform
    add_account(p, "o5-user", name="鄂州网点 张三")
    r = p.post(LOGIN, json={"username": "O5-User", "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["user"], body["role"], body["tenant"], body["outlet"]) == ("o5-user", "outlet", "C01", "C01-O05")
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == body["expires_in"] <= int(p.config.get("TOKEN_MAX_TTL_SECONDS", 2592000))
    me = p.http.get(p.base_url + f"{API}/me", headers={"Authorization": f"Bearer {body['token']}"}, timeout=30)
    assert me.json() == {"user": "o5-user", "role": "outlet", "tenant": "C01", "outlet": "C01-O05"}

    r = p.post(LOGIN, json={"username": "o5-user", "password": "nope"})
    assert r.status_code == 401 and r.json()["error"]["fields"] == {"password": ["wrong username or password"]}
    r = p.post(LOGIN, json={"username": "o5-user"})
    assert r.status_code == 422 and "password" in r.json()["error"]["fields"], r.text
    r = p.post(LOGIN, json={"username": "o5-user", "password": "wrong-password", "admin": True})
    assert r.status_code == 422 and "admin" in r.json()["error"]["fields"], r.text
    # LOGIN_MAX_FAILURES=3 in these tests (a refused body counts for nothing): the third locks
    r = p.post(LOGIN, json={"username": "o5-user", "password": "wrong-password"})
    assert r.status_code == 401 and "password" in r.json()["error"]["fields"], r.text
    r = p.post(LOGIN, json={"username": "o5-user", "password": "wrong-password-2"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0, r.text
    r = p.post(LOGIN, json={"username": "o5-user", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests", r.text

    doc = p.get("/openapi.json").json()
    op = doc["paths"]["/api/v1/auth/login"]["post"]
    assert "security" not in op and "requestBody" in op and "200" in op["responses"]


def test_cookies_are_http_only_same_site_and_secure_behind_tls(portal_platform):
    p = portal_platform
    add_account(p, "o5-user")
    page = requests.get(p.base_url + "/login", timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'lang="zh-CN"' in page.text and "登录" in page.text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    cookie = page.headers["Set-Cookie"]
    assert "fsm_login_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie

    _, r = signed_in(p, "o5-user")
    session_cookie = next(c for c in r.headers["Set-Cookie"].split(", fsm") if "fsm_session=" in c)
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie and "Secure" not in session_cookie
    assert r.headers["Location"] == "/"
    _, r = signed_in(p, "o5-user", **{"X-Forwarded-Proto": "https"})
    assert "Secure" in r.headers["Set-Cookie"]


def test_pages_need_a_session_and_only_local_next_paths(portal_platform):
    p = portal_platform
    add_account(p, "o5-user")
    r = requests.get(p.base_url + "/outlet/jobs?day=1", allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"] == "/login?next=/outlet/jobs%3Fday%3D1"
    r = requests.get(p.base_url + "/outlet/jobs", headers={"HX-Request": "true"}, allow_redirects=False, timeout=30)
    assert r.headers["HX-Redirect"] == "/login?next=/outlet/jobs"
    s = requests.Session()
    page = s.get(p.base_url + "/login?next=https://evil.example/", timeout=30)
    r = s.post(
        p.base_url + "/login?next=https://evil.example/",
        data={"csrf_token": csrf_of(page.text), "username": "o5-user", "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303 and r.headers["Location"] == "/"


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(portal_platform):
    p = portal_platform
    add_account(p, "o5-user")
    anonymous = requests.post(
        p.base_url + "/login", data={"username": "o5-user", "password": PASSWORD}, allow_redirects=False, timeout=30
    )
    assert (
        anonymous.status_code == 403
        and "安全校验码" in anonymous.text
        and "fsm_session" not in anonymous.headers.get("Set-Cookie", "")
    )
    s, _ = signed_in(p, "o5-user")
    form = {"current_password": PASSWORD, "new_password": "another-pw-22", "new_password2": "another-pw-22"}
    for token in (None, "forged-token"):
        data = dict(form, **({"csrf_token": token} if token else {}))
        r = s.post(p.base_url + "/account/password", data=data, allow_redirects=False, timeout=30)
        assert r.status_code == 403 and "请求被拒绝" in r.text, r.text[:500]
    assert p.post(LOGIN, json={"username": "o5-user", "password": PASSWORD}).status_code == 200  # unchanged
    # with the token it works, and the old password no longer does
    token = csrf_of(s.get(p.base_url + "/account/password", timeout=30).text)
    r = s.post(p.base_url + "/account/password", data=dict(form, csrf_token=token), allow_redirects=False, timeout=30)
    assert r.status_code == 303, r.text[:500]
    assert p.post(LOGIN, json={"username": "o5-user", "password": "another-pw-22"}).status_code == 200
    assert p.post(LOGIN, json={"username": "o5-user", "password": PASSWORD}).status_code == 401


def test_another_outlets_job_is_not_found_and_other_roles_are_refused(portal_platform, working_morning):
    p = portal_platform
    visits = plan_outlet_visits(p)
    add_account(p, "o5-user")
    add_account(p, "o1-user", tenant="C01", outlet="C01-O01")
    add_account(p, "agent", role="center", tenant="C01")
    own, _ = signed_in(p, "o5-user")
    r = own.get(p.base_url + f"/outlet/jobs/{visits[0]['id']}", timeout=30)
    assert r.status_code == 200 and "武汉精工机械有限公司" in r.text, r.text[:800]
    other, _ = signed_in(p, "o1-user")
    r = other.get(p.base_url + f"/outlet/jobs/{visits[0]['id']}", timeout=30)
    assert r.status_code == 404 and "未找到" in r.text and "武汉精工" not in r.text
    assert "武汉精工" not in other.get(p.base_url + "/outlet/jobs", timeout=30).text
    agent, r = signed_in(p, "agent")
    r = agent.get(p.base_url + "/outlet/jobs", timeout=30)
    assert r.status_code == 403 and "无权" in r.text, r.text[:1500]
    # the same tenancy through the API with the person's token
    token = p.post(LOGIN, json={"username": "o1-user", "password": PASSWORD}).json()["token"]
    r = p.http.get(p.base_url + f"{API}/visits/{visits[0]['id']}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404


def test_portal_paths_answer_html_the_api_json_and_static_files_are_served(portal_platform):
    p = portal_platform
    add_account(p, "o5-user")
    s, _ = signed_in(p, "o5-user")
    r = s.get(p.base_url + "/outlet/no-such-page", timeout=30)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html") and "未找到" in r.text
    r = s.get(p.base_url + f"{API}/no-such-route", timeout=30)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = requests.get(p.base_url + "/static/htmx.min.js", timeout=30)
    assert r.status_code == 200 and "javascript" in r.headers["Content-Type"] and b"htmx" in r.content[:2000]
    r = requests.get(p.base_url + "/static/portal.css", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/css")
    assert requests.get(p.base_url + "/static/../service.py", timeout=30).status_code == 404


def test_signing_out_ends_the_session_on_the_server(portal_platform):
    p = portal_platform
    add_account(p, "o5-user")
    s, _ = signed_in(p, "o5-user")
    cookie = s.cookies.get("fsm_session")
    page = s.get(p.base_url + "/", timeout=30)
    r = s.post(p.base_url + "/logout", data={"csrf_token": csrf_of(page.text)}, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"] == "/login?done=signed_out"
    # the old cookie, replayed, opens nothing
    r = requests.get(p.base_url + "/account/password", cookies={"fsm_session": cookie}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].startswith("/login")
