"""Track with the sync Tracker and exit without closing it (the atexit drain must deliver)."""

from __future__ import annotations

import sys

from aicostmanager import Tracker

api_base, ini, db, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tracker = Tracker(aicm_api_base=api_base, ini_path=ini, db_path=db, batch_interval=0.5)
for index in range(count):
    tracker.track_nowait(
        "openai::gpt-5-mini", {"input_tokens": index + 1}, response_id=f"atexit-{index}"
    )
sys.stdout.write("tracked\n")
sys.stdout.flush()
