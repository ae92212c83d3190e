"""Breakages for the edge policies (tenfold_infra/policies/edge.py)."""

from __future__ import annotations

from breakage import Breakage

BREAKAGES: list[Breakage] = []
