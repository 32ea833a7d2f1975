"""Owned by the client helper."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
SCHEMA = ""
