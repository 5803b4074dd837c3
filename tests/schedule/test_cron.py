"""Cron slots come from APScheduler in the schedule's time zone; DST gives one firing per local night."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from star.errors import ConfigError
from star.schedule import cron

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize("expr", ["0 2 * * *", "30 2 * * *"])
@pytest.mark.parametrize("day", [datetime(2027, 3, 24, 12, tzinfo=BERLIN), datetime(2027, 10, 27, 12, tzinfo=BERLIN)],
                         ids=["spring", "autumn"])
def test_one_slot_per_local_night_across_dst(expr: str, day: datetime) -> None:
    # noon to noon, local: seven nights, one of them the DST change
    slots = cron.slots_between(cron.trigger(expr, "Europe/Berlin"), day, day + timedelta(days=7))
    nights = [s.astimezone(BERLIN).date() for s in slots]
    assert len(slots) == 7 and len(set(nights)) == 7
    assert nights == sorted(nights)


def test_spring_forward_fires_after_the_gap_and_autumn_fires_the_first_0230() -> None:
    trigger = cron.trigger("30 2 * * *", "Europe/Berlin")
    spring = cron.next_slot(trigger, utc(2027, 3, 27, 12))
    # 02:30 does not exist that night; APScheduler takes it in winter time (= 03:30 CEST)
    assert spring.astimezone(BERLIN).isoformat() == "2027-03-28T03:30:00+02:00"
    autumn = cron.next_slot(trigger, utc(2027, 10, 30, 12))
    assert autumn == utc(2027, 10, 31, 0, 30)  # 02:30 CEST, the first of the two 02:30s
    assert cron.next_slot(trigger, autumn) == utc(2027, 11, 1, 1, 30)  # not 02:30 CET an hour later


def test_hourly_cron_keeps_its_hours_but_not_the_repeated_one() -> None:
    slots = cron.slots_between(cron.trigger("0 * * * *", "Europe/Berlin"), utc(2027, 10, 30, 22), utc(2027, 10, 31, 4))
    local = [s.astimezone(BERLIN).strftime("%H:%M%z") for s in slots]
    assert local == ["01:00+0200", "02:00+0200", "03:00+0100", "04:00+0100", "05:00+0100"]


@pytest.mark.parametrize("expr,tz,needle", [
    ("0 2 * *", "UTC", "five fields"), ("61 2 * * *", "UTC", "not a valid cron"),
    ("0 2 * * *", "Mars/Olympus", "time zone"),
])
def test_bad_cron_or_zone_is_a_config_error(expr: str, tz: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        cron.trigger(expr, tz)


@pytest.mark.parametrize("month,day", [(3, 24), (10, 27)], ids=["spring", "autumn"])
def test_hourly_ticks_across_dst_fire_once_per_local_night(harness: Any, month: int, day: int) -> None:
    harness.add(created=utc(2027, month, day - 1, 12), tz="Europe/Berlin")
    start = utc(2027, month, day - 1, 12, 7)
    for hour in range(7 * 24):  # an external cron calling `star schedule tick` every hour for a week
        harness.tick(start + timedelta(hours=hour))
    firings = list(reversed(harness.history()))
    assert {f["status"] for f in firings} == {"succeeded"}
    nights = [datetime.fromisoformat(f["slot"]).astimezone(BERLIN).date() for f in firings]
    assert len(nights) == 7 and len(set(nights)) == 7
    assert [c["rounds"] for c in harness.invocations()] == list(range(1, 8))
