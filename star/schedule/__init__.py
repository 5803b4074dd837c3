"""Nightly iterations: cron schedules that continue a run, fired exactly once per slot.

cron.py turns a cron expression and time zone into UTC slots (APScheduler does
the calendar work); ticker.py decides, per tick, what each schedule's slots
become and runs the firings it claimed; firing.py runs one firing's child
(`star run` or `star submit`); daemon.py ticks in a loop; notify.py posts
webhooks. The store (db/schedules.py) is the single
source of truth for what has fired.
"""
