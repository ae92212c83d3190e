"""Whether this instance is draining: set on SIGTERM by the server, read by /readyz.

Failing readiness before the listener closes lets the load balancer stop sending new
requests while the instance still serves the ones already routed to it.
"""

from __future__ import annotations

from typing import cast

from starlette.applications import Starlette


class Lifecycle:
    __slots__ = ("_draining",)

    def __init__(self) -> None:
        self._draining = False

    @property
    def draining(self) -> bool:
        return self._draining

    def start_draining(self) -> None:
        self._draining = True


def lifecycle_of(app: Starlette) -> Lifecycle:
    """The app's Lifecycle (``create_app`` puts one on ``app.state``)."""
    return cast("Lifecycle", app.state.lifecycle)
