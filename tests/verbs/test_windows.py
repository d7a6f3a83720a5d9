"""Release windows: a pure function of the spec's `windows` block and an injected clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bluegreen.errors import SpecError
from bluegreen.spec.windows import check, parse_windows

BERLIN = ZoneInfo("Europe/Berlin")
NY = ZoneInfo("America/New_York")

WEEKDAYS: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "allow": [{"days": ["mon", "tue", "wed", "thu"], "hours": "09:00-16:00"}],
    "freeze": [{"from": "2026-12-20", "to": "2027-01-04", "reason": "year-end freeze"}],
}


def at(tz: ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)  # type: ignore[misc]


def test_inside_a_window_is_open_and_says_until_when() -> None:
    # Thursday 2026-11-26 10:00 Berlin
    result = check(WEEKDAYS, at(BERLIN, 2026, 11, 26, 10, 0))
    assert result.open is True
    assert result.next_open is None
    assert result.reason == (
        "inside the release window mon,tue,wed,thu 09:00-16:00 (Europe/Berlin) "
        "until Thu 2026-11-26 16:00 CET"
    )


def test_window_end_is_exclusive_and_start_inclusive() -> None:
    assert check(WEEKDAYS, at(BERLIN, 2026, 11, 26, 9, 0)).open is True
    closed = check(WEEKDAYS, at(BERLIN, 2026, 11, 26, 16, 0))
    assert closed.open is False
    # Friday to Sunday are closed: the next opening is Monday 09:00
    assert closed.next_open == at(BERLIN, 2026, 11, 30, 9, 0)
    assert (
        closed.reason == "outside the release windows mon,tue,wed,thu 09:00-16:00 (Europe/Berlin)"
    )


def test_now_in_another_timezone_is_converted() -> None:
    # 08:30 UTC is 09:30 in Berlin (CET, UTC+1)
    assert check(WEEKDAYS, at(dt.UTC, 2026, 11, 26, 8, 30)).open is True
    assert check(WEEKDAYS, at(dt.UTC, 2026, 11, 26, 7, 59)).open is False


def test_freeze_closes_windows_and_names_the_reason() -> None:
    result = check(WEEKDAYS, at(BERLIN, 2026, 12, 22, 10, 0))  # a Tuesday inside the freeze
    assert result.open is False
    assert result.reason == "release freeze 2026-12-20..2027-01-04: year-end freeze"
    # the freeze includes 2027-01-04 (a Monday); the next window is Tuesday 09:00
    assert result.next_open == at(BERLIN, 2027, 1, 5, 9, 0)


def test_freeze_dates_may_be_yaml_dates() -> None:
    windows = dict(WEEKDAYS, freeze=[{"from": dt.date(2026, 11, 26), "to": dt.date(2026, 11, 26)}])
    result = check(windows, at(BERLIN, 2026, 11, 26, 10, 0))
    assert result.open is False
    assert result.reason == "release freeze 2026-11-26..2026-11-26: release freeze"
    assert result.next_open == at(BERLIN, 2026, 11, 30, 9, 0)


def test_freeze_ending_inside_a_window_opens_at_midnight() -> None:
    windows = {
        "timezone": "UTC",
        "allow": [{"hours": "22:00-02:00"}],
        "freeze": [{"from": "2026-11-26", "to": "2026-11-26", "reason": "launch"}],
    }
    result = check(windows, at(dt.UTC, 2026, 11, 26, 23, 0))
    assert result.open is False
    assert result.next_open == at(dt.UTC, 2026, 11, 27, 0, 0)


def test_overnight_window_belongs_to_its_start_day() -> None:
    windows = {"timezone": "Europe/Berlin", "allow": [{"days": ["fri"], "hours": "22:00-02:00"}]}
    # Friday 2026-11-27 23:00 and Saturday 01:59 are inside; Saturday 02:00 is not
    assert check(windows, at(BERLIN, 2026, 11, 27, 23, 0)).open is True
    inside = check(windows, at(BERLIN, 2026, 11, 28, 1, 59))
    assert inside.open is True
    assert inside.reason.endswith("until Sat 2026-11-28 02:00 CET")
    after = check(windows, at(BERLIN, 2026, 11, 28, 2, 0))
    assert after.open is False
    assert after.next_open == at(BERLIN, 2026, 12, 4, 22, 0)
    # Friday 01:00 is not inside: Thursday has no window
    assert check(windows, at(BERLIN, 2026, 11, 27, 1, 0)).open is False


def test_no_allow_means_any_time_except_freezes() -> None:
    windows = {"timezone": "UTC", "freeze": [{"from": "2026-11-26", "to": "2026-11-27"}]}
    assert check(windows, at(dt.UTC, 2026, 11, 25, 23, 59)).open is True
    frozen = check(windows, at(dt.UTC, 2026, 11, 26, 12, 0))
    assert frozen.next_open == at(dt.UTC, 2026, 11, 28, 0, 0)


def test_day_ranges_and_full_names() -> None:
    w = parse_windows({"allow": [{"days": ["mon-wed", "Friday"], "hours": "00:00-24:00"}]})
    assert w.allow[0].days == frozenset({0, 1, 2, 4})
    wrap = parse_windows({"allow": [{"days": ["sat-mon"]}]})
    assert wrap.allow[0].days == frozenset({5, 6, 0})


def test_spring_forward_keeps_wall_clock_hours() -> None:
    # Europe/Berlin moves from CET to CEST on Sunday 2027-03-28 at 02:00
    windows = {
        "timezone": "Europe/Berlin",
        "allow": [{"days": ["sun", "mon"], "hours": "09:00-10:00"}],
    }
    sunday = check(windows, at(dt.UTC, 2027, 3, 28, 7, 30))  # 09:30 CEST
    assert sunday.open is True
    saturday = check(windows, at(dt.UTC, 2027, 3, 27, 12, 0))
    assert saturday.next_open is not None
    assert saturday.next_open.astimezone(dt.UTC) == at(dt.UTC, 2027, 3, 28, 7, 0)
    # the next day too: 09:00 CEST is 07:00 UTC
    closed = check(windows, at(dt.UTC, 2027, 3, 28, 9, 0))
    assert closed.next_open is not None
    assert closed.next_open.astimezone(dt.UTC) == at(dt.UTC, 2027, 3, 29, 7, 0)


def test_window_inside_the_spring_forward_gap_is_shifted_forward() -> None:
    windows = {"timezone": "Europe/Berlin", "allow": [{"days": ["sun"], "hours": "02:00-02:30"}]}
    before = check(windows, at(dt.UTC, 2027, 3, 28, 0, 30))  # 01:30 CET
    assert before.next_open is not None
    # 02:00 does not exist that night; the window starts at 03:00 CEST (01:00 UTC)
    assert before.next_open.astimezone(dt.UTC) == at(dt.UTC, 2027, 3, 28, 1, 0)
    assert check(windows, at(dt.UTC, 2027, 3, 28, 1, 15)).open is True
    assert check(windows, at(dt.UTC, 2027, 3, 28, 1, 30)).open is False


def test_fall_back_overnight_window_lasts_an_hour_longer() -> None:
    # America/New_York falls back on Sunday 2026-11-01 at 02:00 EDT -> 01:00 EST
    windows = {"timezone": "America/New_York", "allow": [{"days": ["sat"], "hours": "23:00-03:00"}]}
    start = at(dt.UTC, 2026, 11, 1, 3, 0)  # Saturday 23:00 EDT
    assert check(windows, start).open is True
    # five real hours later (03:00 EST = 08:00 UTC) it closes
    assert check(windows, at(dt.UTC, 2026, 11, 1, 7, 59)).open is True
    assert check(windows, at(dt.UTC, 2026, 11, 1, 8, 0)).open is False


def test_long_freeze_names_the_first_opening_after_it() -> None:
    windows = {
        "timezone": "UTC",
        "allow": [{"days": ["mon"], "hours": "09:00-10:00"}],
        "freeze": [{"from": "2026-01-01", "to": "2099-12-31", "reason": "retired"}],
    }
    result = check(windows, at(dt.UTC, 2026, 11, 26, 9, 0))
    assert result.next_open == at(dt.UTC, 2100, 1, 4, 9, 0)


def test_freeze_forever_is_a_clear_error() -> None:
    windows = {
        "timezone": "UTC",
        "allow": [{"days": ["mon"], "hours": "09:00-10:00"}],
        "freeze": [{"from": "2026-01-01", "to": "9999-12-31", "reason": "retired"}],
    }
    with pytest.raises(SpecError) as err:
        check(windows, at(dt.UTC, 2026, 11, 26, 9, 0))
    assert err.value.exit_code == 2
    assert "never open" in err.value.message
    assert "retired" in err.value.message


@pytest.mark.parametrize(
    ("windows", "where", "fragment"),
    [
        ({"timezone": "Mars/Olympus"}, "windows.timezone", "unknown timezone"),
        ({"allow": [{"days": ["funday"]}]}, "windows.allow[0].days[0]", "unknown day"),
        ({"allow": [{"hours": "9-17"}]}, "windows.allow[0].hours", "not HH:MM-HH:MM"),
        ({"allow": [{"hours": "25:00-26:00"}]}, "windows.allow[0].hours", "not a valid"),
        ({"allow": [{"hours": "09:00-09:00"}]}, "windows.allow[0].hours", "empty window"),
        ({"allow": []}, "windows.allow", "no release could ever start"),
        ({"allow": [{"days": []}]}, "windows.allow[0].days", "non-empty"),
        ({"allow": [{"hour": "09:00-10:00"}]}, "windows.allow[0].hour", "unknown key"),
        (
            {"freeze": [{"from": "2026-12-24", "to": "2026-12-20"}]},
            "windows.freeze[0].to",
            "before",
        ),
        ({"freeze": [{"from": "christmas"}]}, "windows.freeze[0].from", "not a date"),
        ({"freeze": [{"to": "2026-12-20"}]}, "windows.freeze[0]", "missing 'from'"),
        ({"zone": "UTC"}, "windows.zone", "unknown key"),
    ],
)
def test_invalid_windows_name_the_json_path(
    windows: dict[str, Any], where: str, fragment: str
) -> None:
    with pytest.raises(SpecError) as err:
        check(windows, at(dt.UTC, 2026, 11, 26, 9, 0))
    assert err.value.where == where
    assert fragment in err.value.message


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check(WEEKDAYS, dt.datetime(2026, 11, 26, 10, 0))


def test_require_open_raises_naming_the_next_opening() -> None:
    from bluegreen.errors import OutsideWindowError
    from bluegreen.spec.windows import require_open

    assert require_open(None, at(dt.UTC, 2026, 11, 26, 3, 0)).open is True
    assert require_open(WEEKDAYS, at(BERLIN, 2026, 11, 26, 10, 0)).open is True
    with pytest.raises(OutsideWindowError) as err:
        require_open(WEEKDAYS, at(BERLIN, 2026, 11, 27, 10, 0))
    assert err.value.exit_code == 2
    assert err.value.message == (
        "outside the release windows mon,tue,wed,thu 09:00-16:00 (Europe/Berlin); "
        "the next window opens Mon 2026-11-30 09:00 CET"
    )


def test_windows_of_a_loaded_spec() -> None:
    from pathlib import Path

    from bluegreen.spec.load import load_spec

    spec = load_spec(Path(__file__).resolve().parents[2] / "examples" / "web" / "bluegreen.yaml")
    assert spec.windows is not None
    result = check(spec.windows, at(BERLIN, 2026, 12, 21, 10, 0))  # a Monday in the freeze
    assert result.reason == "release freeze 2026-12-20..2027-01-04: year-end freeze"
    assert result.next_open == at(BERLIN, 2027, 1, 5, 9, 0)


def _spec_with_days(tmp_path: Any, days: str) -> Any:
    spec = tmp_path / "bluegreen.yaml"
    spec.write_text(
        "version: 1\ncluster: c\nservice: s\ntask_definition: t.json.j2\n"
        f"windows:\n  timezone: UTC\n  allow: [{{days: {days}, hours: '09:00-16:00'}}]\n"
    )
    return spec


@pytest.mark.parametrize("days", ["[mon-fri]", "[friday-monday]", "[sat, sun]"])
def test_spec_schema_accepts_what_windows_understands(tmp_path: Any, days: str) -> None:
    from bluegreen.spec.load import load_spec

    loaded = load_spec(_spec_with_days(tmp_path, days))
    assert loaded.windows is not None
    assert parse_windows(loaded.windows, "windows").allow[0].days


def test_spec_schema_rejects_an_unknown_day_range(tmp_path: Any) -> None:
    from bluegreen.spec.load import load_spec

    with pytest.raises(SpecError) as info:
        load_spec(_spec_with_days(tmp_path, "[mon-fry]"))
    assert "bluegreen.yaml:7: windows.allow[0].days[0]: 'mon-fry'" in str(info.value)


def test_a_window_may_leave_out_days_or_hours(tmp_path: Path) -> None:
    """As the spec schema and windows.py both say: `days` absent is every day, `hours` absent
    all day (the schema used to require both)."""
    from bluegreen.spec.load import load_spec

    (tmp_path / "taskdef.json.j2").write_text('{"family": "web", "containerDefinitions": []}')
    spec = tmp_path / "bluegreen.yaml"
    spec.write_text(
        "version: 1\ncluster: c\nservice: s\ntask_definition: taskdef.json.j2\n"
        "windows:\n  timezone: UTC\n  allow:\n    - {hours: '09:00-17:00'}\n    - {days: [sat]}\n"
    )
    loaded = load_spec(spec)
    windows = parse_windows(loaded.data["windows"])
    assert windows.allow[0].days == frozenset(range(7))
    assert windows.allow[1].days == frozenset({5})
