"""Sign-up on PostgreSQL answers a taken email exactly as a new one: same status, body,
header names and cookies.

On PostgreSQL a committed write hands the client a read-your-writes token (header and
cookie); a sign-up commits only for a new email, so a token there told new emails from
taken ones. SQLite hands out no token, which is why this runs on the PostgreSQL pair.
"""

from __future__ import annotations

import httpx
import pytest

from app.db.read_your_writes import READ_AFTER_LSN_COOKIE, READ_AFTER_LSN_HEADER
from app.settings import Settings
from tests.conftest import PASSWORD
from tests.integration.postgres_app import fresh_pair, pair_settings

DATABASE = "app_it_signup_privacy"
REGISTER = "/api/v1/auth/register"
# Headers whose value differs per request whatever the outcome; their names still count.
PER_REQUEST = {"x-request-id", "date"}


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    return fresh_pair(DATABASE)


@pytest.fixture
def settings(pair: tuple[str, str]) -> Settings:
    """The shared ``app`` and ``client`` fixtures (tests/conftest.py), on this pair."""
    return pair_settings(
        pair, registration_attempts_per_window=0, registration_network_attempts_per_window=0
    )


def _seen(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = sorted(
        (name, "" if name in PER_REQUEST else value) for name, value in response.headers.items()
    )
    return response.status_code, response.content, headers


async def test_a_taken_email_gets_the_new_emails_answer_headers_and_cookies(
    client: httpx.AsyncClient,
) -> None:
    first = await client.post(REGISTER, json={"email": "ada@example.com", "password": PASSWORD})
    new = await client.post(REGISTER, json={"email": "bob@example.com", "password": PASSWORD})
    taken = await client.post(REGISTER, json={"email": "ada@example.com", "password": PASSWORD})
    assert first.status_code == 202
    assert _seen(taken) == _seen(new)
    for response in (new, taken):
        assert READ_AFTER_LSN_HEADER.lower() not in response.headers
        assert READ_AFTER_LSN_COOKIE not in response.cookies
    # The new account exists and logs in at once: login reads the primary.
    login = await client.post(
        "/api/v1/auth/login", json={"email": "bob@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text


async def test_other_writes_still_hand_out_their_token(client: httpx.AsyncClient) -> None:
    account = {"email": "carol@example.com", "password": PASSWORD}
    assert (await client.post(REGISTER, json=account)).status_code == 202
    tokens = (await client.post("/api/v1/auth/login", json=account)).json()
    created = await client.post(
        "/api/v1/items",
        json={"name": "Lamp"},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert created.status_code == 201
    assert created.headers[READ_AFTER_LSN_HEADER]
