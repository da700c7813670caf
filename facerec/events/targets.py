"""Notification targets: Apprise URLs checked, shown masked, stored with their rule.

The pages and the CLI take what people type through ``save_target()``; every problem is a
``TargetError`` with a sentence. A target's URL carries the service's credentials, so it is
shown only as ``masked()`` (Apprise's own privacy form: passwords and tokens as ``****``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select

from .. import outbound
from ..extensions import db
from ..models import (
    NOTIFY_URL_MAX,
    NOTIFY_WHO,
    Camera,
    NotificationPerson,
    NotificationTarget,
    User,
    name_key,
)
from . import rules
from .lanes import typed_url
from .rules import RuleError


class TargetError(ValueError):
    """A target setting that cannot be used (said in a sentence for the page or the CLI)."""


def plugin(url: str):
    """The Apprise plugin for ``url``, or None if Apprise does not know the URL."""
    import apprise  # here: the command line imports this module for every command (0.04 s)

    return apprise.Apprise.instantiate(url)


def clean_url(raw: str | None, *, app=None) -> str:
    """An Apprise URL Apprise understands, whose server is not a refused address."""
    import apprise

    missing = "Enter the Apprise URL of the service, such as ntfys://ntfy.sh/topic."
    url = typed_url(raw, NOTIFY_URL_MAX, TargetError, missing)
    refused = None
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as said:
        try:
            found = apprise.Apprise.instantiate(url, suppress_exceptions=False)
        except Exception as exc:  # a plugin refusing its settings (what Apprise itself catches)
            found, refused = None, exc
    if found is None:
        scheme = (urlsplit(url).scheme or url.split(":", 1)[0]).lower()
        if scheme in EMAIL_SCHEMES and not _names_a_sender(url):
            raise TargetError(
                "An email URL needs the sender: the account on the mail server "
                f"({scheme}://user:password@mail.example.net?to=you@example.org) or a "
                f"from= address ({scheme}://mail.example.net?from=alerts@example.net&to=you@example.org)."
            )
        # The plugin's own complaint ("Invalid ~From~ email specified: ..."), else the first
        # line Apprise logged (an unknown service); the reason is read from the exception
        # first, as a logger may have been silenced by the process's logging set-up.
        reasons = [str(refused).strip()] if refused is not None else []
        reasons += [line.strip() for line in said.getvalue().splitlines()]
        reasons = [reason for reason in reasons if reason]
        why = f" ({reasons[0][:200]})" if reasons else ""
        raise TargetError(
            f"Apprise cannot use this {scheme[:20]}:// URL{why}: see the list of services "
            "and their URLs at https://github.com/caronc/apprise/wiki."
        )
    check_hosts(found, app=app)
    return url


# Apprise's email URLs, whose From is the URL's account at its server, or from=.
EMAIL_SCHEMES = ("mailto", "mailtos")


def _names_a_sender(url: str) -> bool:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return bool(parts.username or query.get("from", "").strip())


def check_hosts(found, *, app=None):
    """Raise TargetError when the server a plugin connects to is a refused address.

    Services at an address the user chose (self-hosted ntfy, email, JSON...) have a host;
    the others (Telegram, Pushover...) talk to their own public servers. Every connection is
    checked again while a message goes out (``outbound.guarded``).
    """
    hosts = []
    if "host" in getattr(found, "template_tokens", {}) and getattr(found, "host", None):
        hosts.append((found.host, getattr(found, "port", None)))
    if getattr(found, "smtp_host", None) and found.smtp_host != getattr(found, "host", None):
        hosts.append((found.smtp_host, getattr(found, "port", None)))
    for host, port in hosts:
        try:
            outbound.check_host(host, port, app=app)
        except outbound.TargetRefused as exc:
            raise TargetError(str(exc)) from None


def masked(url: str) -> str:
    """``url`` with its secrets hidden, as Apprise's privacy form has it, keeping only the
    query parameters the user wrote (Apprise adds every default)."""
    found = plugin(url)
    if found is None:
        parts = urlsplit(url)
        return f"{parts.scheme}://****"
    private = urlsplit(found.url(privacy=True))
    written = {key for key, _value in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    query = [(k, v) for k, v in parse_qsl(private.query, keep_blank_values=True) if k in written]
    return urlunsplit(private._replace(query=urlencode(query)))


def attaches(url: str) -> bool:
    """Can this service carry the face as an attachment?"""
    found = plugin(url)
    return bool(found is not None and getattr(found, "attachment_support", False))


@dataclass
class TargetFields:
    """What a target is made of, as typed on the page or the command line."""

    url: str | None = None
    who: str = "anyone"
    people: list[str] = field(default_factory=list)  # names, for who == "people"
    excluded: list[str] = field(default_factory=list)  # names
    cameras: list[str] = field(default_factory=list)
    days: str = ""
    hours: str = ""
    cooldown: str | int = 600
    attach: bool = True


def _people_ids(names: list[str], what: str) -> list[int]:
    ids = []
    for name in names:
        user_id = db.session.scalar(select(User.id).where(User.name_key == name_key(name)))
        if user_id is None:
            raise TargetError(f"There is nobody called “{name[:100]}” to {what}.")
        ids.append(user_id)
    return ids


def _camera_names(names: list[str]) -> list[str]:
    known = set(db.session.scalars(select(Camera.name)).all()) or {"main"}
    for name in names:
        if name not in known:
            choices = ", ".join(sorted(known))
            raise TargetError(f"There is no camera “{name[:64]}” (cameras: {choices}).")
    return sorted(set(names))


def save_target(fields: TargetFields, target: NotificationTarget | None = None, *, app=None):
    """Check ``fields`` and write them to ``target`` (a new one if None; not committed)."""
    if fields.who not in NOTIFY_WHO:
        raise TargetError(f"“{fields.who[:20]}” is not one of: {', '.join(NOTIFY_WHO)}.")
    try:
        days = rules.parse_days(fields.days)
        hours = rules.parse_hours(fields.hours)
        cooldown = rules.parse_cooldown(fields.cooldown)
    except RuleError as exc:
        raise TargetError(str(exc)) from None
    if not days:
        raise TargetError("Choose at least one day.")
    if fields.who == "people" and not fields.people:
        raise TargetError("Name the people a message is sent for (or choose another “who”).")
    only = _people_ids(fields.people, "send messages for") if fields.who == "people" else []
    never = _people_ids(fields.excluded, "leave out")
    if set(only) & set(never):
        raise TargetError("The same person cannot be both chosen and left out.")
    cameras = _camera_names(fields.cameras)
    if target is None:
        target = NotificationTarget(url=clean_url(fields.url, app=app))
        db.session.add(target)
    elif fields.url:
        target.url = clean_url(fields.url, app=app)
    target.who = fields.who
    target.cameras = ",".join(cameras)
    target.days = "".join("1" if day in days else "0" for day in range(7))
    target.start_minute, target.end_minute = hours if hours else (None, None)
    target.cooldown = cooldown
    target.attach = bool(fields.attach)
    target.people = [NotificationPerson(user_id=i, kind="only") for i in only] + [
        NotificationPerson(user_id=i, kind="except") for i in never
    ]
    return target


def describe(target: NotificationTarget) -> str:
    """The target's rule in plain words."""
    names = {p.user_id: p.user.name for p in target.people if p.user is not None}
    return rules.Rule.of(target).describe(names)
