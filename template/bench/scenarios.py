"""The load scenarios, each beside the untuned twin it is measured against.

Paths may hold placeholders that ``bench.run`` fills in before the runs, from the
seeded data on the target server:

- ``{item_id}``: the newest published item (one hot key: the cache serves it);
- ``{random_item_id}``: a different published item per request (mostly cache misses);
- ``{first_cursor}``: the keyset cursor right after the newest item (an uncached page
  through the same cursor code path as the deep one);
- ``{deep_cursor}``: the keyset cursor at ``--depth`` items into the catalog;
- ``{deep_offset}``: that same depth as a row offset;
- ``{token}``: an access token of a user that ``bench.run`` registers.

Paths under ``/bench/`` are the untuned twins of ``app/api/bench_twins.py``: the server
offers them only with ``BENCH_TWINS=true`` (never in production), and the runner skips
them, saying so, when it does not. ``kind`` says how a scenario is loaded: ``http`` is
one URL per request (wrk, or the built-in generator); ``page-h2`` and ``page-h1`` load
``/bench/page`` plus every asset it references, as browsers do: over HTTP/2 with h2load
(one connection per simulated browser, all requests in flight), or over HTTP/1.1 with wrk
(six connections per browser, one request each at a time).

``server`` says which server a scenario loads: the service, or the ceiling
(``bench.ceiling``: a bare FastAPI app on the same production server with as many
processes), whose ``hello-ceiling`` req/s every other scenario is reported as a share of.

A scenario whose endpoint the service does not offer names the reason in ``missing``;
the runner lists it and skips it instead of inventing a route.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

LIST_PAGE = "/api/v1/items?limit=20"
LIST_PAYLOAD = "/api/v1/items?limit=100"
BROTLI = {"Accept-Encoding": "br"}
AUTHENTICATED = {"Authorization": "Bearer {token}"}
TWIN_PREFIX = "/bench/"
PAGE = "/bench/page"
WRITE_HEADERS = {"Authorization": "Bearer {token}", "Content-Type": "application/json"}
WRITE_BODY = '{"name": "bench write", "status": "published", "price_cents": 1250}'

Kind = Literal["http", "page-h2", "page-h1"]
Server = Literal["service", "ceiling"]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    path: str
    what: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    twin: str | None = None  # the untuned variant this one is compared with
    missing: str | None = None  # why it cannot run against this service yet
    kind: Kind = "http"
    server: Server = "service"

    @property
    def needs_twins(self) -> bool:
        """Served only by a server started with BENCH_TWINS=true."""
        return self.path.startswith(TWIN_PREFIX)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "hello-ceiling",
        "/healthz",
        "a bare FastAPI app on the same server and processes: the req/s ceiling",
        server="ceiling",
    ),
    Scenario("healthz", "/healthz", "the service's cheapest route: what its middleware costs"),
    Scenario(
        "item-read-cached",
        "/api/v1/items/{item_id}",
        "one hot published item read by a signed-in user, answered from the cache",
        headers=AUTHENTICATED,
        twin="item-read-uncached",
    ),
    Scenario(
        "item-read-uncached",
        "/api/v1/items/{random_item_id}",
        "a different item per request (signed in): cache misses, one primary-key lookup each",
        headers=AUTHENTICATED,
    ),
    Scenario("list-first-page", LIST_PAGE, "the first catalog page (cached)"),
    Scenario(
        "list-keyset-first",
        LIST_PAYLOAD + "&cursor={first_cursor}",
        "100 items through the uncached keyset path (cursor after the newest item), brotli",
        headers=BROTLI,
    ),
    Scenario(
        "list-keyset-deep",
        LIST_PAYLOAD + "&cursor={deep_cursor}",
        "100 items --depth items deep, brotli: an index seek, as cheap as the first page",
        headers=BROTLI,
        twin="list-offset-deep",
    ),
    Scenario(
        "list-offset-deep",
        "/bench/items?limit=100&offset={deep_offset}",
        "the same depth with OFFSET: the database walks and discards every earlier row",
        headers=BROTLI,
    ),
    Scenario(
        "list-payload-brotli",
        LIST_PAYLOAD,
        "the first 100 items (cached), brotli-compressed",
        headers=BROTLI,
        twin="list-payload-identity",
    ),
    Scenario(
        "list-payload-gzip",
        LIST_PAYLOAD,
        "100 items, gzip-compressed",
        headers={"Accept-Encoding": "gzip"},
        twin="list-payload-identity",
    ),
    Scenario(
        "list-payload-identity",
        LIST_PAYLOAD,
        "100 items, uncompressed",
        headers={"Accept-Encoding": "identity"},
    ),
    Scenario(
        "write-with-job",
        "/api/v1/items",
        "create an item; its job is enqueued through the outbox in the same transaction",
        method="POST",
        headers=WRITE_HEADERS,
        body=WRITE_BODY,
        twin="write-inline",
    ),
    Scenario(
        "write-inline",
        "/bench/items",
        "create an item and do the job's work inside the request",
        method="POST",
        headers=WRITE_HEADERS,
        body=WRITE_BODY,
    ),
    Scenario(
        "page-http2",
        PAGE,
        "a page and the 20 assets it loads over HTTP/2 (h2c): one connection per browser",
        twin="page-http1",
        kind="page-h2",
    ),
    Scenario(
        "page-http1",
        PAGE,
        "the same page over HTTP/1.1: six connections per browser, one request at a time",
        kind="page-h1",
    ),
)


def by_name(names: list[str] | None = None) -> list[Scenario]:
    """The scenarios called ``names`` (all when None), in declaration order."""
    if not names:
        return list(SCENARIOS)
    known = {scenario.name for scenario in SCENARIOS}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"unknown scenarios {unknown}; known: {sorted(known)}")
    return [scenario for scenario in SCENARIOS if scenario.name in names]
