"""Where checkpoints live: a local folder or a URI (s3://, gs://, ...).

checkpoints.py publishes a finished checkpoint folder to a location and fetches it
back (the `_COMPLETE` marker protocol); runs.py names a run's checkpoints in its
storage and keeps this node's cache of fetched copies.
"""
