"""Breakages for the platform policies (tenfold_infra/policies/platform.py)."""

from __future__ import annotations

from breakage import Breakage

BREAKAGES: list[Breakage] = []
