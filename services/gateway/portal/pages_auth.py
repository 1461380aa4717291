"""The portal's own pages (a mixin of GatewayService): sign-in and sign-out, change of password,
the home page, the static files, and a Chinese 404 for any other path under a portal prefix."""

from __future__ import annotations

from werkzeug.utils import send_file

from services.gateway import accounts
from services.gateway.portal import nav, sessions
from services.gateway.portal.web import (
    GATEWAY,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    STATIC,
    Portal,
    client_address,
    page,
    safe_next,
)
from shared import web
from shared.errors import DomainError, NotFound, TooManyRequests, Unauthorized, ValidationFailed
from shared.web import error_response, http

NOTICES = {"signed_out": "您已退出登录。", "password": "密码已修改。"}  # ?done=... after a redirect
# what /static serves: our own files, and the front-end packages installed by npm (ASSETS_DIR)
OWN_STATIC = ("portal.css", "portal.js", "favicon.svg")
PACKAGED = {"htmx.min.js": ("htmx.org", "dist/htmx.min.js")}


class AuthPages:
    """Signing in and out, the password, home and static files; `GatewayService` inherits them."""

    portal = Portal()
    assets = web.Assets()  # the npm packages (shared.web.assets_dir: ASSETS_DIR)

    @page("GET", "/")
    def portal_home(self, request, page):
        home = nav.home_of(page.user.role)
        if home:
            return page.redirect(home)
        return page.render("home.html", notice=NOTICES.get(request.args.get("done", "")))

    @page(("GET", "POST"), "/login", public=True)
    def portal_login(self, request, page):
        target = safe_next(request.args.get("next"))
        if page.visitor is not None:
            return page.redirect(target)
        form = page.form("username", "password")
        if request.method == "GET":
            return page.render("login.html", form=form, next=target, notice=NOTICES.get(request.args.get("done", "")))
        settings = self.portal.settings
        address = client_address(request, settings.proxy_hops)
        try:
            user = accounts.sign_in(
                lambda: self.db.uow(GATEWAY),
                settings.passwords,
                settings.throttle,
                page.now,
                form.value("username"),
                request.form.get("password", ""),
                address,
            )
        except (Unauthorized, TooManyRequests) as exc:
            form.take(exc)
            response = page.render("login.html", status=exc.http_status, form=form, next=target, notice=None)
            if isinstance(exc, TooManyRequests):
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
        with self.db.uow(GATEWAY) as uow:
            sessions.purge_expired(uow.session, page.now)
            session_id = sessions.begin(uow.session, user, page.now, settings.session_seconds, address)
            uow.commit()
        page.set_cookie(SESSION_COOKIE, session_id)
        page.set_cookie(LOGIN_CSRF_COOKIE, "", max_age=0)
        return page.redirect(target)

    @page(("GET", "POST"), "/logout")
    def portal_logout(self, request, page):
        if request.method == "GET":  # a link or a typed URL only asks; the form signs out
            return page.render("logout.html")
        with self.db.uow(GATEWAY) as uow:
            sessions.end(uow.session, request.cookies.get(SESSION_COOKIE))
            uow.commit()
        page.set_cookie(SESSION_COOKIE, "", max_age=0)
        return page.redirect("/login?done=signed_out")

    @page(("GET", "POST"), "/account/password")
    def portal_password(self, request, page):
        form = page.form("current_password", "new_password", "new_password2")
        if request.method == "GET":
            return page.render("password.html", form=form, done=request.args.get("done") == "password")
        settings = self.portal.settings
        user = page.user
        try:
            if not settings.passwords.verify(user.password_hash, form.value("current_password")):
                raise ValidationFailed("wrong password", {"current_password": ["the current password is wrong"]})
            new = form.value("new_password")
            accounts.check_password(new, user.username, field="new_password")
            if new != form.value("new_password2"):
                raise ValidationFailed("passwords differ", {"new_password2": ["the two new passwords differ"]})
            with self.db.uow(GATEWAY) as uow:
                account = accounts.get_user(uow.session, user.username)
                accounts.set_password(uow.session, settings.passwords, page.now, account, new)
                # every session of the account ends; this browser gets a new one
                session_id = sessions.begin(
                    uow.session,
                    account,
                    page.now,
                    settings.session_seconds,
                    client_address(request, settings.proxy_hops),
                )
                uow.commit()
        except DomainError as exc:
            form.take(exc)
            return page.render("password.html", status=exc.http_status, form=form, done=False)
        page.set_cookie(SESSION_COOKIE, session_id)
        return page.redirect("/account/password?done=password")

    @page("GET", "/<any(outlet, center, hq, warehouse, account):area>/<path:rest>")
    def portal_not_found(self, request, page, area, rest):
        raise NotFound(f"no page {request.path}")

    @http("GET", "/static/<path:name>")
    def portal_static(self, request, name):
        """Our own CSS and script, and the front-end packages installed by npm (ASSETS_DIR)."""
        try:
            if name in PACKAGED:
                response = self.assets.response(request, *PACKAGED[name])
            elif name in OWN_STATIC:
                response = send_file(str(STATIC / name), request.environ, max_age=3600)
            else:
                raise NotFound(f"no file {name}")
        except DomainError as exc:
            return error_response(exc)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
