"""Worker module of the Celery tests: the example app plus a task that logs accepted records.

``track_and_log`` appends a record's ``response_id`` to ``$ACCEPTED_LOG`` only after
``track()`` returned, i.e. once the record was committed to the queue file.
"""

from __future__ import annotations

import os

from celery_app import app

from aicostmanager.integrations.celery import TrackedTask


@app.task(base=TrackedTask, bind=True, name="tests.track_and_log")
def track_and_log(self: TrackedTask, rid: str, customer_key: str | None = None) -> None:
    """Track one event with the chosen ``response_id``, then log it as accepted."""
    self.tracker.track(
        "openai::gpt-5-mini", {"input_tokens": 3, "output_tokens": 5}, response_id=rid
    )
    with open(os.environ["ACCEPTED_LOG"], "a") as log:
        log.write(f"{rid}\n")
