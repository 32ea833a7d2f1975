"""Routes of the example project."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("health", views.health),
    path("chat/sync", views.chat_sync),
    path("chat/async", views.chat_async),
    path("chat/nowait", views.chat_nowait),
]
