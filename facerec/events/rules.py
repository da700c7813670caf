"""Notification rules: who, at which cameras, on which days and hours, how often.

One ``Rule`` value per notification target, built from its row; ``matches()`` decides, and
``describe()`` says it in plain words for the page and the CLI ("Unknown visitors at door,
weekdays 8:00-18:00, at most one message per person and camera every 10 min"). The parsers
read what people type (``mon-fri``, ``08:00-18:00``) and raise RuleError with a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = frozenset(range(7))
WHO_WORDS = {
    "anyone": "Anyone",
    "known": "Known people",
    "unknown": "Unknown visitors",
}
COOLDOWN_MAX = 7 * 24 * 3600


class RuleError(ValueError):
    """A rule setting that cannot be used, said in a sentence for the page or the CLI."""


@dataclass(frozen=True)
class Rule:
    who: str = "anyone"  # anyone | known | unknown | people
    people: frozenset[int] = frozenset()  # who == "people": these alone
    excluded: frozenset[int] = frozenset()  # never these
    cameras: frozenset[str] = frozenset()  # empty: every camera
    days: frozenset[int] = ALL_DAYS  # 0 = Monday
    hours: tuple[int, int] | None = None  # minutes after midnight; None: all day
    cooldown: int = 600  # seconds between two messages about one person at one camera

    @classmethod
    def of(cls, target) -> Rule:
        """The rule of a NotificationTarget row."""
        only = frozenset(p.user_id for p in target.people if p.kind == "only")
        never = frozenset(p.user_id for p in target.people if p.kind == "except")
        hours = None
        if target.start_minute is not None and target.end_minute is not None:
            hours = (target.start_minute, target.end_minute)
        return cls(
            who=target.who,
            people=only,
            excluded=never,
            cameras=frozenset(name for name in (target.cameras or "").split(",") if name),
            days=frozenset(i for i, flag in enumerate(target.days or "") if flag == "1"),
            hours=hours,
            cooldown=target.cooldown,
        )

    def matches(self, user_id: int | None, camera: str, when: datetime) -> bool:
        """Is a face of ``user_id`` (None: unknown) at ``camera`` at local time ``when``
        worth a message (the cool-down aside)?"""
        if user_id in self.excluded:
            return False
        if self.who == "known" and user_id is None:
            return False
        if self.who == "unknown" and user_id is not None:
            return False
        if self.who == "people" and user_id not in self.people:
            return False
        if self.cameras and camera not in self.cameras:
            return False
        minute = when.hour * 60 + when.minute
        day = when.weekday()
        if self.hours is not None:
            start, end = self.hours
            if start <= end:
                if not start <= minute < end:
                    return False
            elif end <= minute < start:  # runs past midnight: 22:00-06:00
                return False
            elif minute < end:
                day = (day - 1) % 7  # 02:00 on Tuesday belongs to Monday's night
        return day in self.days

    def describe(self, names: dict[int, str]) -> str:
        """The rule in plain words; ``names``: person id -> name."""
        if self.who == "people":
            chosen = [names.get(i, "someone removed") for i in sorted(self.people)]
            who = _and(chosen) or "Nobody"
        else:
            who = WHO_WORDS[self.who]
        if self.excluded:
            never = [names.get(i, "someone removed") for i in sorted(self.excluded)]
            who += " except " + _and(never)
        where = "on any camera" if not self.cameras else "at " + _or(sorted(self.cameras))
        parts = [f"{who} {where}"]
        when = days_words(self.days)
        if self.hours is not None:
            when = f"{when} {minute_text(self.hours[0])}-{minute_text(self.hours[1])}"
        parts.append(when)
        if self.cooldown:
            parts.append(
                "at most one message per person and camera every " + duration(self.cooldown)
            )
        else:
            parts.append("a message for every arrival")
        return ", ".join(parts)


def _and(items: list[str], word: str = "and") -> str:
    """``["a", "b", "c"]`` -> ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def _or(items: list[str]) -> str:
    return _and(items, "or")


def days_words(days: frozenset[int]) -> str:
    if days == ALL_DAYS:
        return "every day"
    if days == frozenset(range(5)):
        return "weekdays"
    if days == frozenset({5, 6}):
        return "weekends"
    if not days:
        return "never"
    return _day_ranges(days)


def _day_ranges(days: frozenset[int]) -> str:
    """``{0, 2, 3, 4}`` -> ``Mon, Wed-Fri``."""
    ranges, run = [], []
    for day in range(7):
        if day in days:
            run.append(day)
            continue
        if run:
            ranges.append(run)
        run = []
    if run:
        ranges.append(run)
    words = []
    for run in ranges:
        first, last = DAY_NAMES[run[0]].title(), DAY_NAMES[run[-1]].title()
        words.append(first if len(run) == 1 else f"{first}-{last}")
    return ", ".join(words)


def days_text(days: frozenset[int], sep: str = ",") -> str:
    """The form the CLI takes back: ``mon-fri``, ``sat,sun``."""
    return _day_ranges(days).lower().replace(", ", sep)


def minute_text(minute: int) -> str:
    return f"{minute // 60}:{minute % 60:02d}"


def duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


# ---- what people type ----------------------------------------------------------------------


FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day(word: str) -> int | None:
    """``mon`` or ``monday`` -> 0; anything else None."""
    for index, (short, full) in enumerate(zip(DAY_NAMES, FULL_DAY_NAMES, strict=True)):
        if word in (short, full):
            return index
    return None


def parse_days(text: str | None) -> frozenset[int]:
    """``mon-fri``, ``sat,sun``, ``mon,wed-fri`` (a range may wrap: ``fri-mon``); empty:
    every day."""
    text = (text or "").strip().lower()
    if not text:
        return ALL_DAYS
    days: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        first, dash, last = (part.strip() for part in item.partition("-"))
        start, end = _day(first), _day(last) if dash else _day(first)
        if start is None or end is None:
            raise RuleError(
                f"“{item[:20]}” is not a day or a range of days: write them like mon-fri or "
                "sat,sun."
            )
        day = start
        while True:
            days.add(day)
            if day == end:
                break
            day = (day + 1) % 7
    return frozenset(days)


HOURS_RE = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?")


def parse_hours(text: str | None) -> tuple[int, int] | None:
    """``08:00-18:00`` (or ``8-18``; ``22:00-06:00`` runs past midnight); empty: all day."""
    text = (text or "").strip()
    if not text:
        return None
    match = HOURS_RE.fullmatch(text)
    problem = (
        f"“{text[:20]}” is not a range of hours: write it like 08:00-18:00 (22:00-06:00 runs "
        "past midnight)."
    )
    if not match:
        raise RuleError(problem)
    h1, m1, h2, m2 = (int(group or 0) for group in match.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        raise RuleError(problem)
    start, end = min(h1 * 60 + m1, 1439), min(h2 * 60 + m2, 1440)
    if start == end:
        raise RuleError(f"“{text[:20]}” starts and ends at the same time.")
    return start, end


def parse_cooldown(value) -> int:
    """Seconds, 0 to a week."""
    try:
        seconds = int(str(value).strip())
    except (TypeError, ValueError):
        raise RuleError("The cool-down is a number of seconds, such as 600.") from None
    if not 0 <= seconds <= COOLDOWN_MAX:
        raise RuleError(f"The cool-down is from 0 to {COOLDOWN_MAX} seconds (a week).")
    return seconds


def parse_names(text: str | None) -> list[str]:
    """``a,b`` -> ``["a", "b"]`` (names are looked up by the caller)."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]
