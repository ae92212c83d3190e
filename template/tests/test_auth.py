from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from app.about import SLUG
from app.auth.tokens import AccessTokens, InvalidAccessTokenError
from tests.conftest import PASSWORD, TEST_JWT_SECRET_KEY, Login, bearer

ME = "/api/v1/users/me"


async def test_register_then_login_gives_a_working_token_pair(
    client: httpx.AsyncClient, login: Login
) -> None:
    tokens = await login("Ada@Example.com")
    assert tokens["token_type"] == "bearer"
    assert int(tokens["expires_in"]) == 900
    me = await client.get(ME, headers=bearer(tokens))
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"
    assert "password_hash" not in me.json()


async def test_register_answers_the_same_for_a_taken_email(
    client: httpx.AsyncClient, login: Login
) -> None:
    new = await client.post(
        "/api/v1/auth/register", json={"email": "bob@example.com", "password": PASSWORD}
    )
    await login("ada@example.com")
    taken = await client.post(
        "/api/v1/auth/register",
        json={"email": "ADA@example.com", "password": "another good passphrase here"},
    )
    assert (taken.status_code, taken.json()) == (new.status_code, new.json())
    assert taken.status_code == 202
    # The account keeps its owner's password: the sign-up changed nothing.
    stolen = await client.post(
        "/api/v1/auth/login",
        json={"email": "ada@example.com", "password": "another good passphrase here"},
    )
    assert stolen.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"email": "not-an-email", "password": PASSWORD}, id="bad-email"),
        pytest.param({"email": "ada@example.com", "password": "short"}, id="short-password"),
        pytest.param({"email": "ada@example.com"}, id="missing-password"),
    ],
)
async def test_register_validates_input(client: httpx.AsyncClient, body: dict[str, str]) -> None:
    response = await client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"]


async def test_login_rejects_a_wrong_password_and_an_unknown_email(
    client: httpx.AsyncClient, login: Login
) -> None:
    await login("ada@example.com")
    for email, password in [("ada@example.com", "wrong password"), ("bob@example.com", PASSWORD)]:
        response = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
        assert response.status_code == 401
        assert response.json()["detail"] == "Wrong email or password"


async def test_refresh_rotates_the_refresh_token(client: httpx.AsyncClient, login: Login) -> None:
    tokens = await login("ada@example.com")
    first = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert (await client.get(ME, headers=bearer(rotated))).status_code == 200
    # Reuse after the grace window revokes the family: tests/test_sessions.py.


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient, login: Login) -> None:
    tokens = await login("ada@example.com")
    logout = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    )
    assert logout.status_code == 204
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401


async def test_refresh_tokens_are_stored_hashed(app: FastAPI, login: Login) -> None:
    tokens = await login("ada@example.com")
    stored_keys = list(app.state.resources.store._entries)
    assert stored_keys
    assert all(tokens["refresh_token"] not in key for key in stored_keys)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "iss": SLUG,
        "aud": SLUG,
        "sub": "1",
        "type": "access",
        "jti": "x",
        "fam": "f",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
    }
    return claims | overrides


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "2"
    return f"{header}.{_b64(claims)}.{signature}"


def _unsigned() -> str:
    now = int(datetime.now(UTC).timestamp())
    claims = {"sub": "1", "type": "access", "jti": "x", "iat": now, "exp": now + 300}
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _expired() -> str:
    past = datetime.now(UTC) - timedelta(hours=1)
    return _tokens(clock=lambda: past, ttl_seconds=60).issue(1, "f")


def _tokens(**options: Any) -> AccessTokens:
    return AccessTokens(TEST_JWT_SECRET_KEY, issuer=SLUG, audience=SLUG, **options)


@pytest.mark.parametrize(
    ("make_token", "expected_error"),
    [
        pytest.param(_expired, "invalid_token", id="expired"),
        pytest.param(lambda: _tampered(_expired()), "invalid_token", id="tampered"),
        pytest.param(
            lambda: jwt.encode(_claims(), "another-key-that-is-also-32-bytes-long!", "HS256"),
            "invalid_token",
            id="wrong-key",
        ),
        pytest.param(
            lambda: jwt.encode(_claims(), TEST_JWT_SECRET_KEY, "HS512"),
            "invalid_token",
            id="other-algorithm",
        ),
        pytest.param(_unsigned, "invalid_token", id="alg-none"),
        pytest.param(
            lambda: jwt.encode(_claims(type="refresh"), TEST_JWT_SECRET_KEY, "HS256"),
            "invalid_token",
            id="wrong-type",
        ),
        pytest.param(
            lambda: jwt.encode(
                {k: v for k, v in _claims().items() if k != "exp"}, TEST_JWT_SECRET_KEY, "HS256"
            ),
            "invalid_token",
            id="no-expiry",
        ),
        pytest.param(lambda: "not-a-jwt", "invalid_token", id="garbage"),
        pytest.param(
            lambda: jwt.encode(_claims(iss="another-service"), TEST_JWT_SECRET_KEY, "HS256"),
            "invalid_token",
            id="other-issuer",
        ),
        pytest.param(
            lambda: jwt.encode(_claims(aud="another-service"), TEST_JWT_SECRET_KEY, "HS256"),
            "invalid_token",
            id="other-audience",
        ),
        pytest.param(
            lambda: jwt.encode(
                {k: v for k, v in _claims().items() if k not in ("iss", "aud")},
                TEST_JWT_SECRET_KEY,
                "HS256",
            ),
            "invalid_token",
            id="no-issuer-or-audience",
        ),
        pytest.param(
            lambda: jwt.encode(
                _claims(nbf=datetime.now(UTC) + timedelta(minutes=2)), TEST_JWT_SECRET_KEY, "HS256"
            ),
            "invalid_token",
            id="not-yet-valid-beyond-the-leeway",
        ),
        # Signed with the real key (one shared with another service, or leaked), but with
        # claims issue() never writes: refused, never a 500 further on.
        *(
            pytest.param(
                lambda claims=claims: jwt.encode(_claims(**claims), TEST_JWT_SECRET_KEY, "HS256"),
                "invalid_token",
                id=name,
            )
            for name, claims in [
                ("sub-past-the-id-column", {"sub": "9223372036854775808"}),
                ("sub-far-past-the-id-column", {"sub": "99999999999999999999999"}),
                ("sub-non-ascii-digit", {"sub": "\u00b2"}),
                ("sub-zero", {"sub": "0"}),
                ("sub-negative", {"sub": "-1"}),
                ("exp-a-string", {"exp": str(int(datetime.now(UTC).timestamp()) + 300)}),
                ("exp-past-year-9999", {"exp": 10**20}),
                ("iat-a-string", {"iat": str(int(datetime.now(UTC).timestamp()))}),
                ("fam-not-a-string", {"fam": 7}),
            ]
        ),
    ],
)
async def test_protected_routes_answer_401_to_bad_tokens(
    client: httpx.AsyncClient, make_token: Callable[[], str], expected_error: str
) -> None:
    response = await client.get(ME, headers={"Authorization": f"Bearer {make_token()}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'Bearer error="{expected_error}"'


async def test_tampered_valid_token_is_rejected(client: httpx.AsyncClient, login: Login) -> None:
    tokens = await login("ada@example.com")
    response = await client.get(
        ME, headers={"Authorization": f"Bearer {_tampered(tokens['access_token'])}"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="other-scheme"),
    ],
)
async def test_missing_token_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get(ME, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_tokens_carry_issuer_audience_and_session_and_verify_them() -> None:
    tokens = _tokens()
    claims = jwt.decode(tokens.issue(7, "family-1"), options={"verify_signature": False})
    assert (claims["iss"], claims["aud"], claims["fam"]) == (SLUG, SLUG, "family-1")
    assert claims["nbf"] == claims["iat"]
    assert tokens.verify(tokens.issue(7, "family-1")).family_id == "family-1"


@pytest.mark.parametrize("skew_seconds", [-25, 25])
def test_a_clock_skew_within_the_leeway_is_accepted(skew_seconds: int) -> None:
    """Another instance's clock runs ahead (iat/nbf in the future) or behind (exp passed)."""
    now = datetime.now(UTC)
    if skew_seconds > 0:  # issued by an instance whose clock is ahead
        token = _tokens(clock=lambda: now + timedelta(seconds=skew_seconds)).issue(1, "f")
    else:  # expired 25 s ago by this instance's clock
        token = _tokens(
            clock=lambda: now - timedelta(seconds=60 - skew_seconds), ttl_seconds=60
        ).issue(1, "f")
    assert _tokens(leeway_seconds=30).verify(token).user_id == 1
    with pytest.raises(InvalidAccessTokenError):
        _tokens(leeway_seconds=0).verify(token)
