"""Submitting and watching star runs as Ray jobs (Ray's Jobs API on the head's dashboard, :8265).

Plain functions, used by `star submit` and `star jobs`: packaging a config and
the local files it names into a job's runtime_env (package.py), finding the
cluster's auth token the way Ray does (auth.py), a connected, error-translating
job client (client.py), submission ids and submitting (submit.py), and the
table of star jobs with each run's progress from the store (listing.py).
"""
