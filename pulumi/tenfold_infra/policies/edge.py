"""Load balancer, CDN, WAF, security groups and names: what AWS refuses at the edge."""

from __future__ import annotations

from .model import Policy

EDGE: tuple[Policy, ...] = ()
