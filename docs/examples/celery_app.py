"""A Celery app whose tasks record the cost of (pretend) LLM calls per customer.

Runs with no Redis: kombu's filesystem transport keeps messages in a folder
(``CELERY_BROKER_DIR``, a temporary folder by default). From ``docs/examples``::

    export AICM_API_KEY=...           # and AICM_API_BASE for a local server
    celery -A celery_app worker --pool=prefork --concurrency=2
    python -c "import celery_app; celery_app.summarize.delay('hello world')"
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from celery import Celery

from aicostmanager.integrations.celery import TrackedTask, setup

BROKER_DIR = Path(os.environ.get("CELERY_BROKER_DIR") or Path(tempfile.gettempdir()) / "aicm-demo")
for folder in ("messages", "processed", "control"):
    (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)

app = Celery("celery_app", broker="filesystem://")
app.conf.update(
    broker_transport_options={
        "data_folder_in": str(BROKER_DIR / "messages"),
        "data_folder_out": str(BROKER_DIR / "messages"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "polling_interval": 0.05,
    },
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
    worker_prefetch_multiplier=4,
)

# The tracker's options: none here, so they come from the AICM_* environment.
setup()


@app.task(base=TrackedTask, bind=True)
def summarize(self: TrackedTask, text: str, response_id: str | None = None) -> str:
    """Pretend to summarize ``text`` with an LLM and record the call's usage."""
    usage = {"input_tokens": len(text.split()), "output_tokens": 12}
    self.tracker.track("openai::gpt-5-mini", usage, response_id=response_id)
    return text[:20]
