"""Framework integrations: one module per framework, each imported only when used."""

from __future__ import annotations
