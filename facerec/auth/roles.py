"""Who may do what: roles, token scopes, camera limits, and the guards that enforce them.

Every view declares the one permission it needs, by name (the table is ``PERMISSIONS``)::

    from facerec.auth.roles import public, requires

    @bp.get("/history")
    @requires("history")
    def index(): ...

    @bp.post("/api/v1/users")               # API views alike, above or below @operation
    @requires("people")
    @operation("createUser", ...)
    def create_user(body): ...

    @bp.get("/healthz")
    @public                                 # anyone, signed in or not
    def healthz(): ...

One check runs before every view (``enforce``, installed for the whole app by the auth
blueprint): nobody signed in -> the sign-in page or 401; a role or a token scope short of the
permission -> 403, ``{"error": "..."}`` naming what is missing. A view that declares nothing
is open to admins only, and ``tests/test_roles_table.py`` fails until it is in the table.

Camera limits (an operator or a viewer may be limited to some cameras, a token to fewer):

    require_camera(name)            403 unless the request may see this camera
    can_see_camera(name)            the same as a bool (templates: hide what it may not see)
    visible_cameras()               None (every camera) or the frozenset of names it may see
    only_visible(query, column)     the SQL query limited to those cameras (sightings...)

In templates: ``can("unknowns")`` is true when the request may use that permission (show a
link or a button only then), ``can_open("admin.tokens")`` when it may open that endpoint
(whatever the view declares), ``can_see_camera(name)`` likewise; ``current_role()`` names
the role. Roles are ranked: an admin has every permission of an operator, an operator every
permission of a viewer.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app, g, request
from flask_login import current_user

from ..models import ROLES, Account, name_list

ADMIN, OPERATOR, VIEWER = ROLES
RANK = {VIEWER: 1, OPERATOR: 2, ADMIN: 3}
ARTICLE = {ADMIN: "an admin", OPERATOR: "an operator", VIEWER: "a viewer"}
# Each role in a few words (the accounts page, the CLI's help).
ROLE_TEXT = {
    ADMIN: "Admin: everything, accounts and settings included",
    OPERATOR: "Operator: live, history, people, unknown visitors and corrections",
    VIEWER: "Viewer: the live pages and the names on them",
}

# What a token may be given; each permission below needs exactly one of them.
SCOPES = ("recognize", "stream", "read", "write", "admin")
SCOPE_TEXT = {
    "recognize": "POST /api/v1/recognize: who is in a photo (nothing else)",
    "stream": "the MJPEG streams (as a bearer token or ?token=)",
    "read": "read what the account's role may read (status, people, history...)",
    "write": "changes an operator may make (enrol, correct, label...)",
    "admin": "what only admins may do (delete people, cameras, webhooks, accounts...)",
}
# The scopes each role may hand to its tokens: a token never exceeds its account's role.
ROLE_SCOPES = {
    ADMIN: frozenset(SCOPES),
    OPERATOR: frozenset({"recognize", "stream", "read", "write"}),
    VIEWER: frozenset({"stream", "read"}),
}
PUBLIC = "public"


@dataclass(frozen=True)
class Permission:
    """What a view needs: the least role, the token scope, and what it covers (the docs)."""

    name: str
    role: str | None  # None: anyone, signed in or not
    scope: str | None  # the scope a token needs; None: tokens are not accepted
    covers: str
    # A setting that, when on, opens GET/HEAD requests of this permission to anyone.
    public_setting: str | None = None


PERMISSIONS = {
    p.name: p
    for p in (
        Permission(PUBLIC, None, None, "sign-in, first-run setup, health, static files"),
        Permission(
            "live",
            VIEWER,
            "read",
            "live pages, who is in view, camera list and status",
            "FACEREC_PUBLIC_STREAM",
        ),
        Permission("stream", VIEWER, "stream", "the MJPEG streams", "FACEREC_PUBLIC_STREAM"),
        Permission("own_account", VIEWER, None, "change one's own password, sign out"),
        Permission(
            "api_docs",
            VIEWER,
            "read",
            "the API document and its page",
            "FACEREC_OPENAPI_PUBLIC",  # it holds no data; client generators read it by URL
        ),
        Permission("recognize", OPERATOR, "recognize", "who is in a photo"),
        Permission("history", OPERATOR, "read", "the history of sightings, their crops, CSV"),
        Permission("people", OPERATOR, "read", "the people and their face samples"),
        Permission(
            "enroll", OPERATOR, "write", "enrol people, edit their details, add or remove samples"
        ),
        Permission("unknowns", OPERATOR, "read", "the unknown visitors"),
        Permission(
            "correct",
            OPERATOR,
            "write",
            "enrol, assign or dismiss unknown visitors; this is / is not X; relabel sightings",
        ),
        Permission("metrics", OPERATOR, "read", "Prometheus metrics", "FACEREC_METRICS_PUBLIC"),
        Permission("delete_people", ADMIN, "admin", "delete people"),
        Permission("export_people", ADMIN, "admin", "export everything held on a person (a ZIP)"),
        Permission("search", ADMIN, "admin", "search the history by face"),
        Permission("cameras", ADMIN, "admin", "add, change, start, stop and remove cameras"),
        Permission("webhooks", ADMIN, "admin", "webhooks and notification targets"),
        Permission("tokens", ADMIN, "admin", "API tokens"),
        Permission("accounts", ADMIN, "admin", "accounts, roles, camera limits"),
        Permission("audit", ADMIN, "admin", "the audit trail"),
        Permission("settings", ADMIN, "admin", "server settings"),
    )
}
# A view that declares nothing: admins only (a test names every such view).
UNDECLARED = Permission("undeclared", ADMIN, "admin", "a view that declares no permission")


def requires(permission: str, *, tokens: bool = False):
    """Declare the permission a view needs (checked by ``enforce`` before the view runs).

    ``tokens=True`` lets a bearer token in on a page outside /api/ (the API always takes
    them); a ``stream`` permission also takes ``?token=``, for clients that cannot send
    headers (Home Assistant's MJPEG camera, an ``<img>`` on a wall display).
    """
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}: see facerec.auth.roles.PERMISSIONS")

    def decorate(view):
        view.permission = permission
        view.accepts_tokens = tokens or PERMISSIONS[permission].scope == "stream"
        return view

    return decorate


def public(view):
    """Declare a view open to anyone, signed in or not (sign-in, setup, health)."""
    return requires(PUBLIC)(view)


def permission_of(view) -> Permission:
    """The permission a view function declared (``UNDECLARED`` when none)."""
    return PERMISSIONS.get(getattr(view, "permission", None), UNDECLARED)


def endpoint_permission(endpoint: str | None, app=None) -> Permission | None:
    """The permission of an endpoint of ``app``; None for no endpoint (a 404 to come)."""
    if endpoint is None:
        return None
    if endpoint == "static" or endpoint.endswith(".static"):
        return PERMISSIONS[PUBLIC]
    view = (app or current_app).view_functions.get(endpoint)
    return permission_of(view) if view is not None else None


# ---- who is asking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """What the current request may do: its role, its token's scopes, its camera limit."""

    role: str | None  # None: nobody signed in
    scopes: frozenset | None  # None: a session (no token)
    cameras: frozenset | None  # None: every camera
    who: str

    def has_role(self, role: str) -> bool:
        return self.role is not None and RANK[self.role] >= RANK[role]


ANONYMOUS = Access(None, None, None, "anonymous")


def current_access() -> Access:
    """The Access of this request (worked out once per request)."""
    access = g.get("_access")
    if access is None:
        principal = current_user._get_current_object()  # loads the token into g first
        access = g._access = _access_of(principal, g.get("api_token"))
    return access


def forget_access():
    """Work the access out again (after a sign-in or a role change in this request)."""
    g.pop("_access", None)


def _access_of(principal, token) -> Access:
    if principal is None or not principal.is_authenticated:
        return ANONYMOUS
    if isinstance(principal, Account):
        role = principal.role if principal.role in RANK else VIEWER
        cameras = _limit(principal.camera_list) if role != ADMIN else None
        who = principal.username
    else:  # a token of no account (made on the command line): its scopes alone limit it
        role, cameras, who = ADMIN, None, principal.username
    if token is None:
        return Access(role, None, cameras, who)
    scopes = ROLE_SCOPES[role]
    if token.scope_list is not None:
        scopes = scopes & frozenset(token.scope_list)
    token_cameras = _limit(token.camera_list)
    if token_cameras is not None:
        cameras = token_cameras if cameras is None else cameras & token_cameras
    return Access(role, scopes, cameras, f"token “{token.name}” of {who}")


def _limit(names: list[str]) -> frozenset | None:
    return frozenset(names) if names else None


def current_role() -> str | None:
    return current_access().role


# ---- the check ----------------------------------------------------------------------------


def refusal(permission: Permission, access: Access, method: str = "GET") -> str | None:
    """Why ``access`` may not use ``permission`` (a sentence naming what is missing), or
    None when it may. "anonymous" means: sign in first (401, not 403)."""
    if permission.role is None:
        return None
    if (
        permission.public_setting
        and method in ("GET", "HEAD")
        and current_app.config.get(permission.public_setting)
    ):
        return None
    if access.role is None:
        return "anonymous"
    if not access.has_role(permission.role):
        return (
            f"This needs the {permission.role} role ({permission.covers}); "
            f"{access.who} is {ARTICLE[access.role]}."
        )
    if access.scopes is not None:
        if permission.scope is None:
            return f"API tokens cannot be used for this ({permission.covers}): sign in."
        if permission.scope not in access.scopes:
            return (
                f"This API token lacks the “{permission.scope}” scope "
                f"({permission.covers}); its scopes: {', '.join(sorted(access.scopes)) or 'none'}."
            )
    return None


def can(permission: str, camera: str | None = None) -> bool:
    """May this request use ``permission`` (and see ``camera``, when given)? For templates
    and views: show a link or a button only when using it would not be refused."""
    access = current_access()
    if refusal(PERMISSIONS[permission], access) is not None:
        return False
    return camera is None or _sees(access, camera)


def can_open(endpoint: str, method: str = "GET") -> bool:
    """May this request open ``endpoint`` (as its view declares)? For navigation links:
    ``{% if can_open('admin.tokens') %}<a href=...>{% endif %}``."""
    permission = endpoint_permission(endpoint)
    return permission is not None and refusal(permission, current_access(), method) is None


def enforce():
    """Before every request: refuse what the view's permission does not allow.

    Anonymous -> ``login_manager.unauthorized()`` (sign-in page or 401); short of role or
    scope -> 403 naming what is missing. Routes that match nothing fall through to their 404.
    """
    from ..extensions import login_manager

    permission = endpoint_permission(request.endpoint)
    if permission is None:
        return None
    why = refusal(permission, current_access(), request.method)
    if why is None:
        return None
    if why == "anonymous":
        return login_manager.unauthorized()
    abort(403, description=why)


# ---- camera limits ------------------------------------------------------------------------


def _sees(access: Access, name: str) -> bool:
    return access.cameras is None or name in access.cameras


def visible_cameras() -> frozenset | None:
    """The camera names this request may see, or None for every camera."""
    return current_access().cameras


def can_see_camera(name: str) -> bool:
    return _sees(current_access(), name)


def require_camera(name: str):
    """403 unless this request may see camera ``name`` (its streams, sightings, crops)."""
    access = current_access()
    if not _sees(access, name):
        allowed = ", ".join(sorted(access.cameras or ())) or "none"
        abort(403, description=f"{access.who} may not see the camera “{name}” (only: {allowed}).")


def only_visible(query, column):
    """``query`` limited to rows whose ``column`` (a camera name) this request may see."""
    cameras = visible_cameras()
    if cameras is None:
        return query
    return query.where(column.in_(sorted(cameras)))


def clean_role(raw: str | None) -> str:
    """A role name as typed (any case), or ValueError naming the roles."""
    role = (raw or "").strip().lower()
    if role not in RANK:
        raise ValueError(f"“{raw}” is not a role: use {', '.join(ROLES)}.")
    return role


def clean_scopes(raw) -> list[str]:
    """Scopes as typed (``"read,write"`` or a list), checked, in the order of SCOPES."""
    names = name_list(raw) if isinstance(raw, str) else list(raw or [])
    names = [n.strip().lower() for n in names if n.strip()]
    unknown = [n for n in names if n not in SCOPES]
    if unknown:
        raise ValueError(
            f"“{', '.join(unknown)}”: not a scope; the scopes are {', '.join(SCOPES)}."
        )
    if not names:
        raise ValueError(f"Name at least one scope: {', '.join(SCOPES)}.")
    return [s for s in SCOPES if s in names]


def init_app(app):
    """Check every request (``enforce``) and give templates ``can`` and friends."""
    app.before_request(enforce)
    app.jinja_env.globals.update(
        can=can, can_open=can_open, can_see_camera=can_see_camera, current_role=current_role
    )


__all__ = [
    "ADMIN",
    "OPERATOR",
    "PERMISSIONS",
    "ROLES",
    "ROLE_SCOPES",
    "SCOPES",
    "VIEWER",
    "Access",
    "Permission",
    "can",
    "can_open",
    "can_see_camera",
    "clean_role",
    "clean_scopes",
    "current_access",
    "current_role",
    "endpoint_permission",
    "enforce",
    "only_visible",
    "permission_of",
    "public",
    "require_camera",
    "requires",
    "visible_cameras",
]
