"""Cron slots in UTC, computed by APScheduler's CronTrigger in the schedule's time zone.

Two calendar rules are ours, both about daylight saving time, so that a nightly
schedule fires once per local night:
- a local time that does not exist (02:30 on a spring-forward night) fires
  once, an hour later by the new clock (APScheduler reads it in winter time);
- a local time that happens twice (02:30 on a fall-back night) fires only the
  first time, as cron does.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from star.errors import ConfigError

UTC = timezone.utc
# How far back a tick looks for slots it never recorded; older ones are not listed as missed.
LOOKBACK = timedelta(days=31)
# A bound on slots enumerated per tick (a per-minute cron over a month is ~45k).
MAX_SLOTS = 50_000


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--timezone {name!r} is not a known IANA time zone; use e.g. Europe/Berlin or UTC") from None


def trigger(expr: str, tz: str):  # -> apscheduler CronTrigger
    """The CronTrigger of a five-field crontab expression in time zone `tz`."""
    from apscheduler.triggers.cron import CronTrigger

    tzinfo = zone(tz)
    if len(expr.split()) != 5:
        raise ConfigError(f"--cron {expr!r} needs five fields (minute hour day month weekday), e.g. '0 2 * * *'")
    try:
        return CronTrigger.from_crontab(expr, timezone=tzinfo)
    except ValueError as exc:
        raise ConfigError(f"--cron {expr!r} is not a valid cron expression ({exc}); e.g. '0 2 * * *'") from None


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; naive values are taken to be UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _repeated_wall_time(local: datetime) -> bool:
    """True for the second occurrence of a wall-clock time on a fall-back night."""
    if local.fold != 1:
        return False
    return local.replace(fold=0).utcoffset() != local.utcoffset()


def next_slot(cron_trigger, after: datetime) -> datetime | None:
    """The first slot strictly after `after`, in UTC."""
    # Arithmetic happens in UTC: adding to a zoned datetime is wall-clock
    # arithmetic and would stall on the repeated hour.
    cursor = as_utc(after)
    while True:
        fire = cron_trigger.get_next_fire_time(None, cursor + timedelta(seconds=1))
        if fire is None:
            return None
        fire_utc = fire.astimezone(UTC)
        if fire_utc <= cursor:  # guard against a library stall at a transition
            cursor += timedelta(minutes=1)
            continue
        if _repeated_wall_time(fire.astimezone(cron_trigger.timezone)):
            cursor = fire_utc
            continue
        return fire_utc


def slots_between(cron_trigger, after: datetime, until: datetime) -> list[datetime]:
    """Slots in (after, until], oldest first, at most the last MAX_SLOTS of them."""
    start = max(as_utc(after), as_utc(until) - LOOKBACK)
    slots: list[datetime] = []
    cursor = start
    while True:
        slot = next_slot(cron_trigger, cursor)
        if slot is None or slot > as_utc(until):
            return slots[-MAX_SLOTS:]
        slots.append(slot)
        cursor = slot
        if len(slots) > 2 * MAX_SLOTS:
            slots = slots[-MAX_SLOTS:]


def local_iso(value: datetime | None, tz: str) -> str | None:
    return None if value is None else value.astimezone(zone(tz)).isoformat()
