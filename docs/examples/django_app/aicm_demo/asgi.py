"""ASGI entry point (uvicorn): the middleware runs in its async mode here."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aicm_demo.settings")
application = get_asgi_application()
