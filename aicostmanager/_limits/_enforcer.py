"""The triggered-limits store and enforcer used by the tracker.

The current set of triggered limits arrives as a signed envelope (``GET /triggered-limits`` and
every ``/track`` response). Each envelope is verified (RS256, issuer, expiry, pinned key); a
verified envelope whose ``iat`` is not older than the current one replaces the whole set, also
when its list is empty, and is persisted in the INI ``[triggered_limits] payload``. Anything that
does not verify is logged and ignored: a bad token never blocks and never raises (fail open).

``check()`` is synchronous and in-memory: it reads one immutable snapshot, so any thread may call
it while another replaces the set.
"""

from __future__ import annotations

import base64
import configparser
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
from pydantic import ValidationError

from .._api_key import ApiKey, as_api_key
from .._exceptions import UsageLimitExceeded
from .._ini import read_section, update_section
from ._jws import (
    InvalidEnvelope,
    UnknownKey,
    VerifiedToken,
    peek_key_id,
    public_key_der,
    require_cryptography,
    unwrap_envelope,
    verify_token,
)
from ._models import TriggeredLimit

__all__ = ("INI_SECTION", "AlertCallback", "TriggeredLimitsEnforcer", "select_limits")

INI_SECTION = "triggered_limits"
AlertCallback = Callable[[list[TriggeredLimit]], None]

logger = logging.getLogger("aicostmanager.limits")


@dataclass(frozen=True)
class _Entry:
    event: TriggeredLimit
    expires_ts: float


@dataclass(frozen=True)
class _Snapshot:
    entries: tuple[_Entry, ...] = ()
    iat: float | None = None
    jti: Any = None
    stored: Mapping[str, Any] | None = field(default=None, repr=False)


def _entries(events: Iterable[TriggeredLimit]) -> tuple[_Entry, ...]:
    return tuple(
        _Entry(e, math.inf if e.expires_at is None else e.expires_at.timestamp()) for e in events
    )


def _parse_events(raw: Sequence[Any]) -> list[TriggeredLimit]:
    events: list[TriggeredLimit] = []
    for item in raw:
        try:
            events.append(TriggeredLimit.model_validate(item))
        except ValidationError as exc:  # noqa: PERF203 - one bad event must not drop the rest
            logger.warning(
                "ignoring a malformed triggered-limit event (%d validation errors)",
                exc.error_count(),
            )
    return events


def _applies(value: str | None, wanted: str | None) -> bool:
    return value is None or value == wanted


def select_limits(
    events: Iterable[TriggeredLimit],
    *,
    service_key: str | None = None,
    customer_key: str | None = None,
) -> list[TriggeredLimit]:
    """The events that apply to a service and customer; a None argument does not filter.

    An event's null ``service_key``/``customer_key`` is a wildcard, so an event scoped to all
    services applies to every ``service_key``.
    """
    return [
        e
        for e in events
        if (service_key is None or _applies(e.service_key, service_key))
        and (customer_key is None or _applies(e.customer_key, customer_key))
    ]


class TriggeredLimitsEnforcer:
    """Holds the verified triggered limits of one API key and blocks calls they cover.

    Construction reads the INI (no network). Only ``threshold_type == "limit"`` events block;
    ``alert`` events are logged and passed to ``on_alert`` once each, when first received.

    Args:
        ini_path: the INI file holding ``[triggered_limits] payload``.
        api_key: the tracker's API key; only its id (text after the last ``.``) is kept. A key
            without ``.`` (or None) matches events of any key.
        on_alert: called with the newly received ``alert`` events; its errors are logged.

    Raises:
        ImportError: ``cryptography`` is missing (install ``aicostmanager[limits]``).
    """

    def __init__(
        self,
        *,
        ini_path: str | Path,
        api_key: ApiKey | str | None,
        on_alert: AlertCallback | None = None,
    ) -> None:
        require_cryptography()
        self._ini_path = Path(ini_path).expanduser()
        key = as_api_key(api_key)
        self._key_id = None if key is None else key.key_id
        self._on_alert = on_alert
        self._lock = threading.Lock()
        self._persist_lock = threading.Lock()
        self._pins: dict[str, bytes] = {}
        self._pems: dict[str, str] = {}
        self._seen_alerts: set[str] = set()
        self._warned_unknown_key = False
        self._snapshot = _Snapshot()
        self.reload(report_alerts=False)

    def __repr__(self) -> str:
        return (
            f"TriggeredLimitsEnforcer(ini_path={str(self._ini_path)!r}, "
            f"key_id={self._key_id!r}, events={len(self._snapshot.entries)})"
        )

    @property
    def ini_path(self) -> Path:
        """The INI file the set is persisted in."""
        return self._ini_path

    @property
    def has_public_key(self) -> bool:
        """True once a verified envelope (received or stored) provided a public key."""
        return bool(self._pins)

    @property
    def issued_at(self) -> float | None:
        """``iat`` of the current envelope (None before the first one)."""
        return self._snapshot.iat

    # -- queries -----------------------------------------------------------------------------

    def _mine(self, event: TriggeredLimit) -> bool:
        return self._key_id is None or event.api_key_id is None or event.api_key_id == self._key_id

    def check(self, service_key: str | None, customer_key: str | None) -> None:
        """Raise if a current ``limit`` event covers this service and customer.

        An event covers the call when each of its scope fields (service key, customer key,
        API key id) is null or equal to the call's value. Synchronous, in-memory, thread-safe.

        Raises:
            UsageLimitExceeded: with the matching events, naming their limits.
        """
        entries = self._snapshot.entries
        if not entries:
            return
        now = time.time()
        matching = [
            entry.event
            for entry in entries
            if entry.expires_ts > now
            and entry.event.blocks
            and _applies(entry.event.service_key, service_key)
            and _applies(entry.event.customer_key, customer_key)
            and self._mine(entry.event)
        ]
        if matching:
            raise UsageLimitExceeded(
                matching,
                "usage limit exceeded: " + "; ".join(event.describe() for event in matching),
            )

    def active_limits(self) -> list[TriggeredLimit]:
        """The current, non-expired events (limits and alerts) that apply to this API key."""
        now = time.time()
        return [
            entry.event
            for entry in self._snapshot.entries
            if entry.expires_ts > now and self._mine(entry.event)
        ]

    # -- updates -----------------------------------------------------------------------------

    def update_from_envelope(self, envelope: Mapping[str, Any] | None) -> None:
        """Verify an envelope, replace the set if it is not older, and persist it (blocking).

        ``None`` and ``{}`` mean "nothing known" and change nothing. Never raises for a bad
        envelope: it is logged (without any key) and the previous set is kept.
        """
        stored = self._accept(envelope, report_alerts=True)
        if stored is not None:
            self._persist(stored)

    async def aupdate_from_envelope(self, envelope: Mapping[str, Any] | None) -> None:
        """Like :meth:`update_from_envelope`, writing the INI in a worker thread."""
        stored = self._accept(envelope, report_alerts=True)
        if stored is not None:
            await anyio.to_thread.run_sync(self._persist, stored)

    def reload(self, *, report_alerts: bool = False) -> None:
        """Read the envelope stored in the INI (by this or another process) and apply it if newer.

        Never raises: an unreadable INI or a bad stored envelope is logged and ignored.
        """
        try:
            text = read_section(self._ini_path, INI_SECTION).get("payload")
        except (OSError, configparser.Error, UnicodeDecodeError) as exc:
            logger.warning("cannot read stored triggered limits: %s", type(exc).__name__)
            return
        if not text:
            return
        try:
            data = json.loads(text)
        except ValueError:
            logger.warning("stored triggered limits are not JSON; ignoring them")
            return
        self._accept(data, report_alerts=report_alerts)

    def _verify(self, envelope: Mapping[str, Any]) -> VerifiedToken:
        key_id = peek_key_id(envelope) or ""
        pem = envelope.get("public_key")
        if isinstance(pem, str) and pem.strip():
            der = public_key_der(pem)
            pinned = self._pins.get(key_id)
            if pinned is not None and pinned != der:
                raise InvalidEnvelope(f"key id {key_id!r} is pinned to another public key")
        else:
            known = self._pems.get(key_id)
            if known is None:
                raise UnknownKey(f"no public key for key id {key_id!r}")
            pem, der = known, self._pins[key_id]
        token = verify_token(envelope, pem)
        self._pins[key_id] = der
        self._pems[key_id] = pem
        return token

    def _accept(self, envelope: Any, *, report_alerts: bool) -> Mapping[str, Any] | None:
        try:
            bare = unwrap_envelope(envelope)
            if bare is None:
                return None
            with self._lock:
                token = self._verify(bare)
                current = self._snapshot
                if current.iat is not None:
                    if token.iat < current.iat:
                        logger.debug("ignoring triggered limits older than the current set")
                        return None
                    if token.iat == current.iat and token.claims.get("jti") == current.jti:
                        return None
                raw = token.claims.get("triggered_limits") or []
                events = _parse_events(raw)
                stored = {**bare, "public_key": token.public_key_pem}
                self._snapshot = _Snapshot(
                    _entries(events), token.iat, token.claims.get("jti"), stored
                )
                alerts = self._new_alerts(events, mark_only=not report_alerts)
        except UnknownKey as exc:
            # Servers send the key once per API key; until a set that matters (or
            # GET /triggered-limits) brings it, say so once rather than on every response.
            level = logging.DEBUG if self._warned_unknown_key else logging.WARNING
            self._warned_unknown_key = True
            logger.log(level, "ignoring triggered limits that cannot be verified yet: %s", exc)
            return None
        except InvalidEnvelope as exc:
            logger.warning("ignoring triggered limits that failed verification: %s", exc)
            return None
        except Exception as exc:  # a bad envelope must never break tracking
            logger.warning("ignoring unreadable triggered limits: %s", type(exc).__name__)
            return None
        if alerts:
            self._report(alerts)
        return stored

    def _new_alerts(self, events: list[TriggeredLimit], *, mark_only: bool) -> list[TriggeredLimit]:
        now = time.time()
        fresh = [
            e
            for e in events
            if not e.blocks
            and e.event_id not in self._seen_alerts
            and self._mine(e)
            and not (e.expires_at is not None and e.expires_at.timestamp() <= now)
        ]
        self._seen_alerts.update(e.event_id for e in fresh)
        return [] if mark_only else fresh

    def _report(self, alerts: list[TriggeredLimit]) -> None:
        for event in alerts:
            logger.warning("usage alert triggered: %s", event.describe())
        if self._on_alert is None:
            return
        try:
            self._on_alert(list(alerts))
        except Exception:
            logger.exception("the on_alert callback raised")

    def _persist(self, stored: Mapping[str, Any]) -> None:
        with self._persist_lock:
            if self._snapshot.stored is not stored:
                return  # superseded: the newer envelope is persisted by its own call
            try:
                if _stored_iat(self._ini_path) > float(self._snapshot.iat or 0):
                    return  # another process stored a newer set meanwhile
                text = json.dumps(stored, separators=(",", ":"), sort_keys=True)
                update_section(self._ini_path, INI_SECTION, {"payload": text})
            except (OSError, TimeoutError) as exc:
                logger.warning("cannot persist triggered limits: %s", type(exc).__name__)


def _stored_iat(path: Path) -> float:
    """``iat`` of the envelope stored in the INI, unverified (only to avoid overwriting it)."""
    try:
        text = read_section(path, INI_SECTION).get("payload")
        if not text:
            return -math.inf
        token = json.loads(text).get("encrypted_payload", "")
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        iat = claims.get("iat")
        return float(iat) if isinstance(iat, (int, float)) else -math.inf
    except (OSError, configparser.Error, ValueError, AttributeError, IndexError, TypeError):
        return -math.inf
