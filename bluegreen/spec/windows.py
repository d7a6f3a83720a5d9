"""Release windows: when a release may start.

The spec's `windows` block, evaluated against an injected clock (no I/O, no `now()` here):

```yaml
windows:
  timezone: Europe/Berlin                       # IANA name; default UTC
  allow:                                        # absent or empty: any time (freezes still apply)
    - {days: [mon, tue, wed, thu], hours: "09:00-16:00"}
    - {days: [fri], hours: "22:00-02:00"}       # past midnight: ends on Saturday 02:00
  freeze:                                       # whole days, both ends included
    - {from: 2026-12-20, to: 2027-01-04, reason: year-end freeze}
```

Semantics:
- `days` names the day a window *starts* (`mon`..`sun`, full names, or ranges `mon-fri`);
  absent means every day. `hours` is `HH:MM-HH:MM` in the window's timezone; an end at or
  before the start runs past midnight; `24:00` is the end of the day; absent means all day.
- Wall-clock times follow the timezone's daylight-saving rules: `09:00-16:00` is 09:00 to
  16:00 local on both sides of a change. A time that does not exist on a spring-forward day
  (e.g. 02:30 in Europe/Berlin) is shifted forward by the gap; an ambiguous time on a
  fall-back day means its first occurrence.
- A freeze closes every window from `from` 00:00 to the end of `to` (local time).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bluegreen.errors import SpecError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DAY = dt.timedelta(days=1)
# After the last freeze the weekly pattern repeats, so two weeks past it decide "never".
_SEARCH_PAST_LAST_FREEZE = dt.timedelta(days=15)
_LAST_DAY = dt.date(9999, 12, 1)  # freezes reaching this far close the windows for good


@dataclass(frozen=True)
class Allow:
    days: frozenset[int]  # weekday numbers (Monday 0) on which the window starts
    start: int  # minutes after local midnight
    end: int  # minutes after local midnight of the start day (> start; may pass 24:00)
    label: str


@dataclass(frozen=True)
class Freeze:
    start: dt.date
    end: dt.date  # included
    reason: str


@dataclass(frozen=True)
class Windows:
    timezone: ZoneInfo
    allow: tuple[Allow, ...]
    freeze: tuple[Freeze, ...]

    def describe(self) -> str:
        if not self.allow:
            return f"any time ({self.timezone.key})"
        return "; ".join(a.label for a in self.allow) + f" ({self.timezone.key})"


class WindowCheck(NamedTuple):
    open: bool
    reason: str
    next_open: dt.datetime | None  # None when open now


def parse_windows(data: Mapping[str, Any], where: str = "windows") -> Windows:
    """Validate the `windows` block; SpecError naming the JSON path on any problem."""
    if not isinstance(data, Mapping):
        raise SpecError("must be a mapping with timezone, allow and freeze", where=where)
    unknown = sorted(set(data) - {"timezone", "allow", "freeze"})
    if unknown:
        raise SpecError(
            f"unknown key {unknown[0]!r}",
            where=f"{where}.{unknown[0]}",
            hint="windows takes timezone, allow and freeze",
        )
    tz_name = data.get("timezone", "UTC")
    try:
        tz = ZoneInfo(str(tz_name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SpecError(
            f"unknown timezone {tz_name!r}",
            where=f"{where}.timezone",
            hint="use an IANA name such as Europe/Berlin, America/New_York or UTC",
        ) from exc
    allow_raw = data.get("allow")
    if allow_raw is None:
        allow_raw = []
    elif isinstance(allow_raw, Sequence) and not isinstance(allow_raw, str) and not allow_raw:
        raise SpecError(
            "allow is an empty list: no release could ever start",
            where=f"{where}.allow",
            hint="remove `allow` to allow any time, or add {days, hours} entries",
        )
    freeze_raw = data.get("freeze") or []
    if not isinstance(allow_raw, Sequence) or isinstance(allow_raw, str):
        raise SpecError("must be a list of {days, hours}", where=f"{where}.allow")
    if not isinstance(freeze_raw, Sequence) or isinstance(freeze_raw, str):
        raise SpecError("must be a list of {from, to, reason}", where=f"{where}.freeze")
    allow = tuple(_parse_allow(item, f"{where}.allow[{i}]") for i, item in enumerate(allow_raw))
    freeze = tuple(_parse_freeze(item, f"{where}.freeze[{i}]") for i, item in enumerate(freeze_raw))
    return Windows(timezone=tz, allow=allow, freeze=freeze)


def _parse_days(raw: Any, where: str) -> frozenset[int]:
    if raw is None:
        return frozenset(range(7))
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, Sequence) or not items:
        raise SpecError("must be a non-empty list of days (mon..sun)", where=where)
    days: set[int] = set()
    for i, item in enumerate(items):
        text = str(item).strip().lower()
        if "-" in text:
            first, _, last = text.partition("-")
            a, b = _day(first, f"{where}[{i}]"), _day(last, f"{where}[{i}]")
            days.update((a + k) % 7 for k in range((b - a) % 7 + 1))
        else:
            days.add(_day(text, f"{where}[{i}]"))
    return frozenset(days)


def _day(text: str, where: str) -> int:
    text = text.strip().lower()
    if text in DAYS:
        return DAYS.index(text)
    if text in _FULL:
        return _FULL[text]
    raise SpecError(
        f"unknown day {text!r}", where=where, hint="use mon, tue, wed, thu, fri, sat, sun"
    )


def _parse_allow(item: Any, where: str) -> Allow:
    if not isinstance(item, Mapping):
        raise SpecError("must be a mapping {days, hours}", where=where)
    unknown = sorted(set(item) - {"days", "hours"})
    if unknown:
        raise SpecError(f"unknown key {unknown[0]!r}", where=f"{where}.{unknown[0]}")
    days = _parse_days(item.get("days"), f"{where}.days")
    hours = item.get("hours")
    if hours is None:
        start, end = 0, 24 * 60
        hours_text = "all day"
    else:
        m = _HOURS_RE.match(str(hours))
        if not m:
            raise SpecError(
                f"hours {hours!r} is not HH:MM-HH:MM",
                where=f"{where}.hours",
                hint='write e.g. "09:00-16:00", or "22:00-02:00" for a window past midnight',
            )
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise SpecError(f"hours {hours!r} is not a valid time range", where=f"{where}.hours")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end == start:
            raise SpecError(
                f"hours {hours!r} is an empty window",
                where=f"{where}.hours",
                hint='for a whole day leave hours out, or write "00:00-24:00"',
            )
        if end < start:
            end += 24 * 60  # past midnight
        hours_text = f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"
    label = f"{_days_label(days)} {hours_text}"
    return Allow(days=days, start=start, end=end, label=label)


def _days_label(days: frozenset[int]) -> str:
    if len(days) == 7:
        return "every day"
    return ",".join(DAYS[d] for d in sorted(days))


def _parse_freeze(item: Any, where: str) -> Freeze:
    if not isinstance(item, Mapping):
        raise SpecError("must be a mapping {from, to, reason}", where=where)
    unknown = sorted(set(item) - {"from", "to", "reason"})
    if unknown:
        raise SpecError(f"unknown key {unknown[0]!r}", where=f"{where}.{unknown[0]}")
    if "from" not in item:
        raise SpecError("missing 'from' date", where=where)
    start = _date(item["from"], f"{where}.from")
    end = _date(item.get("to", item["from"]), f"{where}.to")
    if end < start:
        raise SpecError(f"'to' {end} is before 'from' {start}", where=f"{where}.to")
    reason = str(item.get("reason") or "release freeze")
    return Freeze(start=start, end=end, reason=reason)


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise SpecError(f"{value!r} is not a date (YYYY-MM-DD)", where=where) from exc


def _local(tz: ZoneInfo, day: dt.date, minutes: int) -> dt.datetime:
    """The UTC instant of `minutes` after local midnight of `day` (wall clock, DST-aware)."""
    extra, minutes = divmod(minutes, 24 * 60)
    d = day + dt.timedelta(days=extra)
    local = dt.datetime(d.year, d.month, d.day, minutes // 60, minutes % 60, tzinfo=tz)
    return local.astimezone(dt.UTC)


Interval = tuple[dt.datetime, dt.datetime]


def _merge(intervals: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _subtract(allowed: list[Interval], blocked: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for start, end in allowed:
        pieces = [(start, end)]
        for b_start, b_end in blocked:
            nxt: list[Interval] = []
            for p_start, p_end in pieces:
                if b_end <= p_start or b_start >= p_end:
                    nxt.append((p_start, p_end))
                    continue
                if p_start < b_start:
                    nxt.append((p_start, b_start))
                if b_end < p_end:
                    nxt.append((b_end, p_end))
            pieces = nxt
        out.extend(pieces)
    return out


def _freeze_interval(w: Windows, f: Freeze) -> Interval:
    end = min(f.end, _LAST_DAY) + _DAY
    return _local(w.timezone, min(f.start, _LAST_DAY), 0), _local(w.timezone, end, 0)


def _open_intervals(w: Windows, now: dt.datetime) -> list[Interval]:
    """Open instants (UTC) from the day before `now` to two weeks past the last freeze."""
    today = now.astimezone(w.timezone).date()
    last = today
    if w.freeze:
        last = max(last, max(f.end for f in w.freeze))
    first_day = today - _DAY  # a window that started yesterday may still be open
    stop = last + _SEARCH_PAST_LAST_FREEZE if last < _LAST_DAY else _LAST_DAY
    allowed: list[Interval] = []
    if not w.allow:
        allowed.append((_local(w.timezone, first_day, 0), _local(w.timezone, stop, 0)))
    else:
        day = first_day
        while day < stop:
            frozen = next((f for f in w.freeze if f.start <= day < f.end), None)
            if frozen is not None:
                # windows starting inside a freeze are closed; one starting on its last day
                # (or the day before, past midnight) may reach beyond it
                day = frozen.end - _DAY if frozen.end - _DAY > day else day + _DAY
                continue
            for a in w.allow:
                if day.weekday() in a.days:
                    allowed.append(
                        (_local(w.timezone, day, a.start), _local(w.timezone, day, a.end))
                    )
            day += _DAY
    frozen_all = _merge([_freeze_interval(w, f) for f in w.freeze])
    return _merge(_subtract(_merge(allowed), frozen_all))


def check(windows: Mapping[str, Any] | Windows, now: dt.datetime) -> WindowCheck:
    """Whether a release may start at `now` (timezone-aware), why, and when it next may.

    Raises SpecError when the block is invalid or no window ever opens again.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("check() needs a timezone-aware `now`")
    w = windows if isinstance(windows, Windows) else parse_windows(windows)
    now_utc = now.astimezone(dt.UTC)
    local_now = now.astimezone(w.timezone)
    freeze_now = next((f for f in w.freeze if f.start <= local_now.date() <= f.end), None)
    for start, end in _open_intervals(w, now_utc):
        if end <= now_utc:
            continue
        if start <= now_utc:
            until = end.astimezone(w.timezone)
            return WindowCheck(
                True,
                f"inside the release window {w.describe()} until {_fmt(until)}",
                None,
            )
        opens = start.astimezone(w.timezone)
        if freeze_now is not None:
            reason = f"release freeze {freeze_now.start}..{freeze_now.end}: {freeze_now.reason}"
        else:
            reason = f"outside the release windows {w.describe()}"
        return WindowCheck(False, reason, opens)
    why = "the windows never open"
    if w.freeze:
        last = max(w.freeze, key=lambda f: f.end)
        why += f" (last freeze ends {last.end}: {last.reason})"
    raise SpecError(
        f"{why}: no release is possible after {_fmt(local_now)}",
        where="windows",
        hint="add an allow entry that matches at least one day, or shorten the freeze",
    )


def _fmt(t: dt.datetime) -> str:
    return t.strftime("%a %Y-%m-%d %H:%M %Z")


def require_open(windows: Mapping[str, Any] | Windows | None, now: dt.datetime) -> WindowCheck:
    """For `deploy`: OutsideWindowError (exit 2) naming the next opening when closed."""
    from bluegreen.errors import OutsideWindowError

    if windows is None:
        return WindowCheck(True, "no release windows configured", None)
    result = check(windows, now)
    if not result.open:
        assert result.next_open is not None
        raise OutsideWindowError(
            f"{result.reason}; the next window opens {_fmt(result.next_open)}",
            where="windows",
            hint="wait for the window (deploy --wait-for-window), or change `windows` in the spec",
        )
    return result
