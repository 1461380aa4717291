"""Gateway route of the gateway's own accounts (a mixin of GatewayService): a person's username
and password for a bearer token, for API clients. The token is the one ``fsm token`` mints (same
signer, same claims), living ``LOGIN_TOKEN_TTL_SECONDS`` (12 hours) but never beyond
``TOKEN_MAX_TTL_SECONDS``. Wrong passwords are throttled as the portal's sign-in is (the same
counters): 401 naming ``password``, then 429 with ``Retry-After``."""

from __future__ import annotations

from services.gateway import accounts, schemas
from services.gateway.api import API, api, json_body
from services.gateway.portal.web import GATEWAY, Portal, client_address
from shared import clock
from shared.validation import load


class AuthRoutes:
    """POST /api/v1/auth/login; `GatewayService` inherits it."""

    portal = Portal()

    @api(
        "POST",
        f"{API}/auth/login",
        "A bearer token for a person's account (username and password, `fsm user add`)",
        body=schemas.Login,
        response=schemas.LoginToken,
        public=True,
        tag="auth",
    )
    def auth_login(self, request, principal):
        data = load(schemas.Login(), json_body(request))
        settings = self.portal.settings
        user = accounts.sign_in(
            lambda: self.db.uow(GATEWAY),
            settings.passwords,
            settings.throttle,
            clock.now(),
            data["username"],
            data["password"],
            client_address(request, settings.proxy_hops),
        )
        who = accounts.principal_of(user)
        token, seconds = self.auth.token_for(who, settings.login_token_seconds)
        return {
            "token": token,
            "token_type": "Bearer",
            "expires_in": seconds,
            "user": who.user,
            "display_name": user.display_name,
            "role": who.role,
            "tenant": who.tenant,
            "outlet": who.outlet,
            "warehouse": who.warehouse,
            "duty": who.duty,
        }
