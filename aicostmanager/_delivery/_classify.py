"""What a ``/track`` answer means for each record of a batch. Pure: no I/O, no clock.

The rules are the rows of ``_RULES``: the first row whose statuses contain the answer's status
decides. Only a well-formed ``/track`` body acknowledges a record, and only the records it names
by ``response_id``: a captive portal's ``200 text/html``, an empty ``204``, ``200 {"ok": true}``
or a ``results`` list that leaves records out acknowledge nothing (those records are retried as
after any transient failure). A redirect is a configuration problem: delivery pauses, records
are kept, and the target is reported once.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import urlsplit, urlunsplit

import msgspec

from .._exceptions import APIConnectionError, APITimeoutError
from .._http import Response
from .._wire import ResultItem, TrackResponse, decode_response

__all__ = ("ACCEPTED_STATUSES", "Action", "BatchOutcome", "classify", "record_ids")

ACCEPTED_STATUSES = frozenset({"queued", "completed", "service_key_unknown"})


class Action(Enum):
    """What to do with a batch as a whole."""

    SETTLE = "settle"  # per-record outcomes are known (delivered / dead / not acknowledged)
    RETRY = "retry"  # transient: keep every record, back off (or honour Retry-After)
    PAUSE = "pause"  # credentials or configuration: keep every record, stop sending a while
    SPLIT = "split"  # the server refused the batch as a whole: send the halves


@dataclass(frozen=True)
class BatchOutcome:
    """The classification of one ``/track`` attempt.

    With ``SETTLE``, ``unacknowledged`` lists the records the answer did not name: they were
    not delivered and are retried like after a transient failure (``error`` says why).
    ``warn_once`` marks a configuration problem to be logged once at WARNING, not per attempt.
    ``unreachable`` marks a connection-level failure (refused, reset, DNS: no answer at all,
    and not a timeout): the server is down, not failing, so the worker probes it at a fixed
    pace instead of backing each record off.
    """

    action: Action
    delivered: Sequence[int] = ()  # indexes into the batch
    dead: Sequence[tuple[int, str, Sequence[str]]] = ()  # (index, reason, server errors)
    unacknowledged: Sequence[int] = ()  # indexes the answer did not acknowledge
    results: Sequence[ResultItem | None] = ()  # per index, when the server sent one
    retry_after: float | None = None
    error: str = ""
    warn_once: bool = False
    unreachable: bool = False
    response: TrackResponse | None = field(default=None, repr=False)


class _IdOnly(msgspec.Struct):
    response_id: str = ""


_id_decoder = msgspec.json.Decoder(_IdOnly)


def record_ids(bodies: Sequence[bytes]) -> list[str]:
    """The ``response_id`` of each encoded record (``""`` for a body that does not decode)."""
    return [_record_id(body) for body in bodies]


def _record_id(body: bytes) -> str:
    try:
        return _id_decoder.decode(body).response_id
    except (msgspec.DecodeError, msgspec.ValidationError):
        # A damaged row: the server refuses the request, the batch is split, and the row
        # ends alone in the dead-letter table with the server's reason.
        return ""


def _match(ids: Sequence[str], parsed: TrackResponse) -> list[ResultItem | None]:
    """The result naming each record by its ``response_id`` (``None``: not named)."""
    by_id = {r.response_id: r for r in parsed.results if r.response_id}
    return [by_id.get(rid) if rid else None for rid in ids]


def _per_record(
    ids: Sequence[str], parsed: TrackResponse, *, success: bool
) -> tuple[list[int], list[tuple[int, str, Sequence[str]]], list[int], list[ResultItem | None]]:
    matched = _match(ids, parsed)
    delivered: list[int] = []
    dead: list[tuple[int, str, Sequence[str]]] = []
    unknown: list[int] = []
    for index, item in enumerate(matched):
        if item is None:
            unknown.append(index)
        elif item.status in ACCEPTED_STATUSES:
            delivered.append(index)
        elif item.errors or item.status == "error":
            errors = list(item.errors or ())
            dead.append((index, "; ".join(errors) or "rejected by the server", errors))
        else:
            # Named without a status (legacy servers): accepted on 2xx, unknown on 422.
            (delivered if success else unknown).append(index)
    return delivered, dead, unknown, matched


# ---- the rules ---------------------------------------------------------------------------

_Rule = Callable[[Sequence[str], Response, float | None, str], BatchOutcome]


def _acknowledged(
    ids: Sequence[str], answer: Response, retry_after: float | None, text: str
) -> BatchOutcome:
    """2xx: each record named in ``results`` is settled; anything else is not delivered."""
    parsed = decode_response(answer.content)
    if parsed is None or not parsed.results:
        return BatchOutcome(
            Action.RETRY,
            error=f"{text} is not a /track answer ({_describe(answer)})",
            retry_after=retry_after,
        )
    delivered, dead, unknown, matched = _per_record(ids, parsed, success=True)
    if len(unknown) == len(ids):
        return BatchOutcome(
            Action.RETRY,
            error=f"{text} names none of the {len(ids)} records sent",
            retry_after=retry_after,
        )
    error = f"{text} left out {len(unknown)} of {len(ids)} records" if unknown else ""
    return BatchOutcome(
        Action.SETTLE,
        delivered=delivered,
        dead=dead,
        unacknowledged=unknown,
        results=matched,
        error=error,
        response=parsed,
    )


def _redirected(
    ids: Sequence[str], answer: Response, retry_after: float | None, text: str
) -> BatchOutcome:
    """3xx: the API root is wrong (``http://`` for ``https://``, a moved host): pause."""
    target = _safe_url(answer.headers.get("location", ""))
    where = f" to {target}" if target else ""
    return BatchOutcome(
        Action.PAUSE,
        error=f"HTTP {answer.status_code} redirect{where} (fix AICM_API_BASE / AICM_API_URL)",
        retry_after=retry_after,
        warn_once=True,
    )


def _pause(hint: str) -> _Rule:
    def pause(
        ids: Sequence[str], answer: Response, retry_after: float | None, text: str
    ) -> BatchOutcome:
        return BatchOutcome(Action.PAUSE, error=f"{text} ({hint})", retry_after=retry_after)

    return pause


def _transient(
    ids: Sequence[str], answer: Response, retry_after: float | None, text: str
) -> BatchOutcome:
    """The server is busy or failing: retry everything later."""
    return BatchOutcome(Action.RETRY, error=text, retry_after=retry_after)


def _refused(
    ids: Sequence[str], answer: Response, retry_after: float | None, text: str
) -> BatchOutcome:
    """The request as a whole was refused: split until the bad record is alone, dead-letter it."""
    if len(ids) > 1:
        return BatchOutcome(Action.SPLIT, error=text)
    detail = _detail(answer)
    return BatchOutcome(Action.SETTLE, dead=[(0, text, [detail] if detail else [])], results=[None])


def _rejected(
    ids: Sequence[str], answer: Response, retry_after: float | None, text: str
) -> BatchOutcome:
    """422 with per-record results: dead-letter the named failures, split for the rest."""
    rejected = decode_response(answer.content)
    if rejected is None or not rejected.results:
        return _refused(ids, answer, retry_after, text)
    delivered, dead, unknown, matched = _per_record(ids, rejected, success=False)
    if unknown and len(ids) > 1:
        return BatchOutcome(Action.SPLIT, error=text)
    detail = _detail(answer)
    dead += [(i, text, [detail] if detail else []) for i in unknown]
    return BatchOutcome(
        Action.SETTLE, delivered=delivered, dead=dead, results=matched, response=rejected
    )


_RULES: tuple[tuple[Container[int], _Rule], ...] = (
    (range(200, 300), _acknowledged),
    (range(300, 400), _redirected),
    (frozenset({401, 403}), _pause("check the API key")),
    (frozenset({404, 405}), _pause("check AICM_API_BASE / AICM_API_URL")),
    (frozenset({408, 429}), _transient),
    (range(500, 600), _transient),
    (frozenset({422}), _rejected),
    (range(100, 600), _refused),  # 400, 413 and the rest
)


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
        unreachable = not isinstance(answer, APITimeoutError)
        return BatchOutcome(Action.RETRY, error=str(answer), unreachable=unreachable)
    status = answer.status_code
    text = f"HTTP {status}"
    if not 200 <= status < 400:
        detail = _detail(answer)
        if detail:
            text += f": {detail}"
    for statuses, rule in _RULES:
        if status in statuses:
            return rule(ids, answer, retry_after, text)
    return _transient(ids, answer, retry_after, text)  # not HTTP: a broken proxy


def _detail(answer: Response) -> str:
    body = answer.json()
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail[:500]
        if detail is not None:
            return str(detail)[:500]
    return ""


def _describe(answer: Response) -> str:
    kind = answer.headers.get("content-type", "").split(";", 1)[0].strip() or "no content type"
    return f"{kind}, {len(answer.content)} bytes"


def _safe_url(url: str) -> str:
    """The URL without credentials, query or fragment (they may carry secrets)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:
        return ""
    return urlunsplit((parts.scheme, host, parts.path, "", ""))[:300]
