"""Framework integrations, one module per framework (each needs its own extra).

- ``aicostmanager.integrations.fastapi``: FastAPI / Starlette lifespan, dependency, middleware
  (``pip install 'aicostmanager[fastapi]'``).
- ``aicostmanager.integrations.streamlit``: one shared ``Tracker`` per Streamlit server
  (``pip install 'aicostmanager[streamlit]'``).

This package imports no framework: a framework is imported only by its own module.
"""

from __future__ import annotations

__all__: tuple[str, ...] = ()
