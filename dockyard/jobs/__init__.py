"""The job engine: jobs over targets or items, driven by a controller on the runtime.

A job (table ``jobs``) has one row per item (``job_items``: an IoT thing, later an S3 Batch
Operations manifest line or a Glance import), each with its own status, version and
timers. The API that owns a job kind writes the job's ``plan`` (``plan.py``: pacing, abort
criteria, timeouts, retries, whether it is continuous) in the engine's own words; the engine
(``engine.py``) then releases items at the planned rate, times them out, retries them,
aborts the job when its criteria are met and completes it. The pure decisions
(``rollout.py``, ``abort.py``, ``states.py``) are table-tested; ``controller.py`` runs the
engine as the leader of all control planes, so it resumes after a restart from the store.
"""
