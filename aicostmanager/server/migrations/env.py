"""Alembic's environment: run the revisions on the connection :func:`upgrade` passes in."""

from __future__ import annotations

from alembic import context

_connection = context.config.attributes["connection"]
context.configure(connection=_connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
