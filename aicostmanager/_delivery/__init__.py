"""Delivery strategies: the group-commit intake, the persistent worker, immediate delivery."""

from __future__ import annotations
