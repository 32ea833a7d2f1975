"""The tracker's mutable counters and its frozen statistics snapshot list the same counters."""

from __future__ import annotations

import dataclasses

from aicostmanager import TrackerStatistics
from aicostmanager._delivery._counters import Counters


def test_counters_are_the_statistics_fields_the_tracker_counts() -> None:
    """Every ``Counters`` field is a ``TrackerStatistics`` field with the same type and default."""
    snapshot = {f.name: f for f in dataclasses.fields(TrackerStatistics)}
    counted = dataclasses.fields(Counters)
    for field in counted:
        assert field.name in snapshot, field.name
        assert (field.type, field.default) == (
            snapshot[field.name].type,
            snapshot[field.name].default,
        ), field.name
    # What the snapshot adds is computed when it is taken, not counted.
    assert set(snapshot) - {f.name for f in counted} == {"delivery_type", "buffered"}
