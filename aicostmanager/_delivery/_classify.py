"""What a ``/track`` answer means for each record of a batch. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import msgspec

from .._exceptions import APIConnectionError
from .._http import Response
from .._wire import ResultItem, TrackResponse, decode_response

__all__ = ("ACCEPTED_STATUSES", "Action", "BatchOutcome", "classify", "record_ids")

ACCEPTED_STATUSES = frozenset({"queued", "completed", "service_key_unknown"})


class Action(Enum):
    """What to do with a batch as a whole."""

    SETTLE = "settle"  # per-record outcomes are known (delivered / dead)
    RETRY = "retry"  # transient: keep every record, back off (or honour Retry-After)
    PAUSE = "pause"  # credentials or configuration: keep every record, stop sending a while
    SPLIT = "split"  # the server refused the batch as a whole: send the halves


@dataclass(frozen=True)
class BatchOutcome:
    """The classification of one ``/track`` attempt."""

    action: Action
    delivered: Sequence[int] = ()  # indexes into the batch
    dead: Sequence[tuple[int, str, Sequence[str]]] = ()  # (index, reason, server errors)
    results: Sequence[ResultItem | None] = ()  # per index, when the server sent one
    retry_after: float | None = None
    error: str = ""
    response: TrackResponse | None = field(default=None, repr=False)


class _IdOnly(msgspec.Struct):
    response_id: str = ""


_id_decoder = msgspec.json.Decoder(_IdOnly)


def record_ids(bodies: Sequence[bytes]) -> list[str]:
    """The ``response_id`` of each encoded record."""
    return [_id_decoder.decode(body).response_id for body in bodies]


def _match(ids: Sequence[str], parsed: TrackResponse) -> list[ResultItem | None]:
    results = parsed.results
    if len(results) == len(ids) and all(
        r.response_id in (None, rid) for r, rid in zip(results, ids, strict=True)
    ):
        return list(results)
    by_id = {r.response_id: r for r in results if r.response_id}
    return [by_id.get(rid) for rid in ids]


def _per_record(
    ids: Sequence[str], parsed: TrackResponse, *, success: bool
) -> tuple[list[int], list[tuple[int, str, Sequence[str]]], list[int], list[ResultItem | None]]:
    matched = _match(ids, parsed)
    delivered: list[int] = []
    dead: list[tuple[int, str, Sequence[str]]] = []
    unknown: list[int] = []
    for index, item in enumerate(matched):
        if item is None:
            (delivered if success else unknown).append(index)
        elif item.status in ACCEPTED_STATUSES:
            delivered.append(index)
        elif item.errors or item.status == "error":
            errors = list(item.errors or ())
            dead.append((index, "; ".join(errors) or "rejected by the server", errors))
        else:
            (delivered if success else unknown).append(index)
    return delivered, dead, unknown, matched


def classify(
    ids: Sequence[str], answer: Response | APIConnectionError, retry_after: float | None
) -> BatchOutcome:
    """Classify one attempt of a batch whose records have ``ids``.

    Args:
        ids: the response ids of the batch, in order.
        answer: the response, or the connection error that replaced it.
        retry_after: seconds from the response's ``Retry-After`` header, if any.
    """
    if isinstance(answer, APIConnectionError):
        return BatchOutcome(Action.RETRY, error=str(answer))
    status = answer.status_code
    if 200 <= status < 300:
        parsed = decode_response(answer.content) or TrackResponse()
        delivered, dead, _, matched = _per_record(ids, parsed, success=True)
        return BatchOutcome(
            Action.SETTLE, delivered=delivered, dead=dead, results=matched, response=parsed
        )
    text = f"HTTP {status}"
    detail = _detail(answer)
    if detail:
        text += f": {detail}"
    if status in (401, 403):
        return BatchOutcome(
            Action.PAUSE, error=f"{text} (check the API key)", retry_after=retry_after
        )
    if status in (404, 405):
        return BatchOutcome(
            Action.PAUSE,
            error=f"{text} (check AICM_API_BASE / AICM_API_URL)",
            retry_after=retry_after,
        )
    if status == 408 or status == 429 or status >= 500:
        return BatchOutcome(Action.RETRY, error=text, retry_after=retry_after)
    if status == 422:
        rejected = decode_response(answer.content)
        if rejected is not None and rejected.results:
            delivered, dead, unknown, matched = _per_record(ids, rejected, success=False)
            if unknown and len(ids) > 1:
                return BatchOutcome(Action.SPLIT, error=text)
            dead += [(i, text, [detail] if detail else []) for i in unknown]
            return BatchOutcome(
                Action.SETTLE, delivered=delivered, dead=dead, results=matched, response=rejected
            )
    if len(ids) > 1:
        return BatchOutcome(Action.SPLIT, error=text)
    return BatchOutcome(Action.SETTLE, dead=[(0, text, [detail] if detail else [])], results=[None])


def _detail(answer: Response) -> str:
    body = answer.json()
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail[:500]
        if detail is not None:
            return str(detail)[:500]
    return ""
