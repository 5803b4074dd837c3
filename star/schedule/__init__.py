"""Nightly iterations: cron schedules that continue a run, fired exactly once per slot.

cron.py turns a cron expression and time zone into UTC slots (APScheduler does
the calendar work); plan.py decides, per tick, what each schedule's slots
become; firing.py runs one firing (a child `star run` or `star submit`);
ticker.py and daemon.py drive them. The store (db/schedules.py) is the single
source of truth for what has fired.
"""
