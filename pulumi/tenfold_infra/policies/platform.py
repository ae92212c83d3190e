"""Database, cache, broker, service and deploy path: what AWS refuses, and what breaks after `pulumi up`."""

from __future__ import annotations

from .model import Policy

PLATFORM: tuple[Policy, ...] = ()
