"""Settings of the example project: the three AICM lines are all the integration needs."""

from __future__ import annotations

SECRET_KEY = "example-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "aicm_demo.urls"
WSGI_APPLICATION = "aicm_demo.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

INSTALLED_APPS = ["aicostmanager.integrations.django.AICMConfig"]
MIDDLEWARE = ["aicostmanager.integrations.django.AICMMiddleware"]

# Tracker options; whatever is left out comes from the AICM_* environment (AICM_API_KEY...).
AICM: dict[str, object] = {}
# This example has no login, so the customer comes from a header set by a trusted proxy;
# with django.contrib.auth, leave this out: the default is the authenticated user's pk.
AICM_CUSTOMER_KEY = "aicostmanager.integrations.django.customer_from_header"
