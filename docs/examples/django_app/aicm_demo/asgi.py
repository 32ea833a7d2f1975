"""ASGI entry point (uvicorn): the middleware runs in its async mode here.

``wrap_asgi`` adds the lifespan protocol, so each server worker drains its tracker on exit.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from aicostmanager.integrations.django import wrap_asgi

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aicm_demo.settings")
application = wrap_asgi(get_asgi_application())
