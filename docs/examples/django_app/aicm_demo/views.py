"""Views that "call an LLM" and record its usage, for the customer the middleware bound."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from aicostmanager.integrations.django import atrack, get_tracker

SERVICE = "openai::gpt-5-mini"


def _usage(request: HttpRequest) -> dict[str, int]:
    # Stands in for the usage a real LLM response reports.
    return {"input_tokens": len(request.GET.get("prompt", "hello")), "output_tokens": 20}


def health(request: HttpRequest) -> JsonResponse:
    """Liveness probe (tracks nothing)."""
    return JsonResponse({"ok": True})


def chat_sync(request: HttpRequest) -> JsonResponse:
    """Sync view: ``track()`` returns once the record is committed to the queue file."""
    result = get_tracker().track(SERVICE, _usage(request), response_id=request.GET.get("rid"))
    return JsonResponse({"response_id": result.response_id, "status": result.status})


async def chat_async(request: HttpRequest) -> JsonResponse:
    """Async view: ``atrack()`` awaits the same commit without blocking the event loop."""
    result = await atrack(SERVICE, _usage(request), response_id=request.GET.get("rid"))
    return JsonResponse({"response_id": result.response_id, "status": result.status})


async def chat_nowait(request: HttpRequest) -> JsonResponse:
    """Async view: ``track_nowait()`` never waits (committed within ``commit_interval``)."""
    rid = get_tracker().track_nowait(SERVICE, _usage(request), response_id=request.GET.get("rid"))
    return JsonResponse({"response_id": rid, "status": "buffered"})
