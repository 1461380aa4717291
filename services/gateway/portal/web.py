"""The portal's machinery: the `Portal` dependency (templates, settings), the `page` decorator
(session, role, CSRF, principal, errors as pages) and the `Page` a handler gets.

A page handler is a method of a mixin of `GatewayService`::

    @page("GET", "/outlet/jobs", roles=("outlet",))
    def outlet_jobs(self, request, page):
        board = self.dispatch.board({"status": "scheduled"})   # the REST route's RPC
        return page.render("outlet/jobs.html", items=board["items"])

Before it runs, `page` has found the visitor's session (none: a redirect to ``/login?next=``),
checked the role (another role's page: 403), put the account's principal into the worker's
context exactly as a bearer token would (``self.auth.act_as``), so every RPC behind the page is
scoped by the services as the API's are, and, for a POST, checked the form's CSRF token (none or
a wrong one: a 403 page, nothing done). A `DomainError` the handler lets through becomes an error
page with its status (404 for another outlet's record, 503 with ``Retry-After``...); anything else
a 500 page, logged. Every answer carries the security headers (CSP without inline script, no
framing, no caching of pages).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from services.gateway import accounts
from services.gateway.portal import labels, nav, sessions
from services.gateway.portal.forms import Form
from services.gateway.portal.messages import zh
from shared import clock
from shared.clock import LOCAL_TZ
from shared.errors import DomainError, Forbidden, as_domain_error
from shared.tenancy import service_principal
from shared.tenants import TenantDirectory
from shared.web import http

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
SESSION_COOKIE = "fsm_session"
LOGIN_CSRF_COOKIE = "fsm_login_csrf"  # the sign-in form's token, before there is a session
CSRF_FIELD = "csrf_token"
IDEMPOTENCY_FIELD = "idempotency_key"
GATEWAY = service_principal("gateway")  # who reads the gateway's own tables (accounts, sessions)
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
ERROR_TITLES = {
    400: "请求有误",
    401: "请先登录",
    403: "无权操作",
    404: "未找到",
    409: "操作冲突",
    413: "提交的内容太大",
    422: "填写有误",
    429: "尝试次数过多",
    500: "系统出错",
    503: "服务暂时不可用",
}
ERROR_TEXTS = {
    403: "您没有权限打开此页面或执行此操作。",
    404: "您要找的内容不存在，或不属于您的网点。",
    500: "系统出现错误，已记录。请稍后再试，或联系管理员并提供下方编号。",
    503: "后台服务暂时无法访问，请稍后刷新页面。",
}
CSRF_REFUSED = "表单已失效或来源不明（缺少安全校验码），操作未执行。请返回刷新页面后重新提交。"


@dataclass(frozen=True)
class Settings:
    session_seconds: int
    throttle: accounts.Throttle
    passwords: accounts.Passwords
    proxy_hops: int  # trusted reverse proxies in front of the gateway (X-Forwarded-For)
    login_token_seconds: int  # POST /api/v1/auth/login's token (capped by TOKEN_MAX_TTL_SECONDS)
    refresh_seconds: int = 30  # how often live parts of a page (the board, the queue's deadlines) reload

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:
        def number(key: str, default: int) -> int:
            value = config.get(key)
            return int(value) if value not in (None, "") else default

        return cls(
            session_seconds=sessions.session_seconds(config),
            throttle=accounts.Throttle.from_config(config),
            passwords=accounts.Passwords.from_config(config, run=_in_thread),
            proxy_hops=number("TRUSTED_PROXY_HOPS", 0),
            login_token_seconds=number("LOGIN_TOKEN_TTL_SECONDS", 12 * 3600),
            refresh_seconds=max(1, number("PORTAL_REFRESH_SECONDS", 30)),
        )


def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Argon2 in a real thread (it releases the GIL): the hub keeps serving other requests."""
    from eventlet import tpool

    return tpool.execute(fn, *args)


class Portal(DependencyProvider):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """The portal's templates and settings, read once per container."""

    def setup(self) -> None:
        config = self.container.config
        self.settings = Settings.from_config(config)
        self.directory = TenantDirectory.from_config(config)
        self.env = environment(self.directory)

    def get_dependency(self, worker_ctx: Any) -> Portal:
        return self


# ---------------------------------------------------------------- templates
def environment(directory: TenantDirectory) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        zh=zh,
        label=labels.label,
        site=lambda site_id: labels.site_name(directory, site_id),
        local_time=local_time,
        local_date=local_date,
        countdown=countdown,
    )
    return env


def aware_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return clock.as_utc(value) if isinstance(value, datetime) else None


def page_number(value: str | None) -> int:
    """A list's `?page=` as a page number: 1 when missing or not a number, at most 100000."""
    try:
        return max(1, min(int(value or 1), 100000))
    except ValueError:
        return 1


def local_time(value: Any, fmt: str | None = None) -> str:
    """A timestamp (ISO text or datetime) in Beijing time: ``12-04 09:30``, with the year when it
    is not this year's (``2025-03-10 21:38``), or in `fmt`."""
    moment = aware_time(value)
    if moment is None:
        return ""
    local = moment.astimezone(LOCAL_TZ)
    if fmt is None:
        fmt = "%m-%d %H:%M" if local.year == clock.now().astimezone(LOCAL_TZ).year else "%Y-%m-%d %H:%M"
    return local.strftime(fmt)


def local_date(value: Any) -> str:
    moment = aware_time(value)
    if moment is None:
        return ""
    day = moment.astimezone(LOCAL_TZ)
    return f"{day.month}月{day.day}日 周{'一二三四五六日'[day.weekday()]}"


def countdown(value: Any, now: datetime) -> str:
    """How long until `value` ("还剩 2 小时 5 分"), or how long it is overdue ("已超时 40 分")."""
    moment = aware_time(value)
    if moment is None:
        return ""
    seconds = int((moment - now).total_seconds())
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = ([f"{days} 天"] if days else []) + ([f"{hours} 小时"] if hours else []) + [f"{mins} 分"]
    return ("还剩 " if seconds >= 0 else "已超时 ") + " ".join(parts[:2])


# ---------------------------------------------------------------- the page a handler gets
@dataclass
class Page:
    request: Any
    portal: Portal
    visitor: sessions.Visitor | None
    csrf_token: str
    now: datetime
    call_id: str | None = None
    new_login_token: bool = False
    cookies: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    @property
    def user(self) -> Any:
        return self.visitor.user if self.visitor else None

    @property
    def principal(self) -> Any:
        return accounts.principal_of(self.visitor.user) if self.visitor else None

    def form(self, *names: str) -> Form:
        """The posted form's fields `names` (see forms.Form)."""
        return Form.posted(self.request, names)

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        user = self.user
        base = {
            "me": user,
            "nav": nav.nav_for(user.role, self.request.path) if user else [],
            "csrf_token": self.csrf_token,
            "now": self.now,
            "now_iso": self.now.isoformat(),
            "path": self.request.path,
            "call_id": self.call_id,
            "new_idempotency_key": lambda: secrets.token_urlsafe(16),
            "refresh_seconds": self.portal.settings.refresh_seconds,  # hx-trigger="every Ns" of live parts
            "fragment": False,  # True: the content block alone, for an htmx refresh (_fragment.html)
        }
        base.update(context)
        html = self.portal.env.get_template(template).render(base)
        return Response(html, status=status, mimetype="text/html")

    def error(self, exc: BaseException) -> Response:
        err = as_domain_error(exc)
        status = err.http_status
        detail = [zh(m) for ms in (err.fields or {}).values() for m in (ms if isinstance(ms, list) else [ms])]
        response = self.render(
            "error.html",
            status=status,
            title=ERROR_TITLES.get(status, "出错了"),
            text=ERROR_TEXTS.get(status) or zh(err.message),
            detail=[d for d in detail if isinstance(d, str)],
        )
        retry_after = getattr(err, "retry_after", None)
        if status in (429, 503) and retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    def redirect(self, location: str, status: int = 303) -> Response:
        response = Response("", status=status)
        response.headers["Location"] = location
        return response

    def set_cookie(self, *args: Any, **kwargs: Any) -> None:
        """A cookie for the answer (HttpOnly, SameSite=Lax, Secure over TLS unless said otherwise)."""
        kwargs.setdefault("httponly", True)
        kwargs.setdefault("samesite", "Lax")
        kwargs.setdefault("secure", over_tls(self.request))
        kwargs.setdefault("path", "/")
        self.cookies.append((args, kwargs))


def over_tls(request: Any) -> bool:
    """The browser reached us over TLS: directly, or through a proxy that says so."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.scheme == "https" or forwarded == "https"


def client_address(request: Any, proxy_hops: int) -> str:
    """The address failed sign-ins are counted against: the peer, or with `proxy_hops` trusted
    proxies in front the address the outermost of them saw."""
    route = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    route.append(request.remote_addr or "-")
    return route[-(proxy_hops + 1)] if proxy_hops < len(route) else route[0]


def safe_next(value: Any, default: str = "/") -> str:
    """`value` if it is a path on this site (``/outlet/jobs?day=1``), else `default`: a sign-in
    never sends anyone to another site."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(c) < 32 for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def login_location(request: Any) -> str:
    target = request.full_path.rstrip("?") if request.query_string else request.path
    return "/login" if target == "/" else f"/login?next={quote(target, safe='/')}"


# ---------------------------------------------------------------- the decorator
def page(
    method: str | tuple[str, ...], path: str, *, roles: tuple[str, ...] | None = None, public: bool = False
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Declare a portal page: signed-in only (unless `public`), for `roles` (None: every role)."""
    methods = (method,) if isinstance(method, str) else tuple(method)

    def decorate(fn: Callable[..., Response]) -> Callable[..., Response]:
        def handler(self: Any, request: Any, **kwargs: Any) -> Response:
            portal: Portal = self.portal
            now = clock.now()
            current = Page(request, portal, None, "", now, call_id=self.auth.call_id())
            try:
                self.auth.limit_body(request)
                with self.db.uow(GATEWAY) as uow:
                    current.visitor = sessions.find(uow.session, request.cookies.get(SESSION_COOKIE), now)
                    uow.commit()  # an expired session's row goes
                if current.visitor is not None:
                    current.csrf_token = current.visitor.csrf_token
                else:
                    current.csrf_token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
                    if not public:
                        return _secure(_to_login(current))
                    if not current.csrf_token:
                        current.csrf_token = secrets.token_urlsafe(32)
                        current.set_cookie(
                            LOGIN_CSRF_COOKIE, current.csrf_token, max_age=portal.settings.session_seconds
                        )
                if current.visitor is not None:
                    if roles is not None and current.visitor.user.role not in roles:
                        raise Forbidden("this page is not for your role")
                    self.auth.act_as(current.principal)
                if request.method == "POST":
                    if not sessions.same_token(current.csrf_token, request.form.get(CSRF_FIELD)):
                        response = current.render(
                            "error.html", status=403, title="请求被拒绝", text=CSRF_REFUSED, detail=[]
                        )
                        return _secure(_with_cookies(response, current))
                    key = request.form.get(IDEMPOTENCY_FIELD)
                    if key:
                        parts = [request.method, request.path]
                        parts += [f"{k}={v}" for k, v in sorted(request.form.items(multi=True)) if k != CSRF_FIELD]
                        self.auth.repeatable(key, parts, current.principal, IDEMPOTENCY_FIELD)
                response = fn(self, request, current, **kwargs)
            except DomainError as exc:
                response = current.error(exc)
            except Exception as exc:  # a page never answers with a traceback
                log.exception("portal page %s failed", request.path)
                response = current.error(exc)
            return _secure(_with_cookies(response, current))

        handler.__name__ = fn.__name__
        handler.__doc__ = fn.__doc__
        return http(",".join(methods), path)(handler)

    return decorate


def _to_login(current: Page) -> Response:
    location = login_location(current.request)
    if current.request.headers.get("HX-Request"):  # htmx: a whole-page redirect, not a fragment
        response = Response("", status=200)
        response.headers["HX-Redirect"] = location
        return response
    return current.redirect(location)


def _with_cookies(response: Response, current: Page) -> Response:
    for args, kwargs in current.cookies:
        response.set_cookie(*args, **kwargs)
    return response


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response
