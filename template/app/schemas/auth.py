"""Bodies of the /auth endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

import email_validator
from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema, field_validator

Password = Annotated[str, Field(min_length=8, max_length=128)]


def _valid_email(value: str) -> str:
    """A syntactically valid address, normalized; like pydantic's EmailStr, but .test works.

    RFC 2606 reserves .test for testing: accounts under it let tests and staging use
    addresses that can never reach a real mailbox. Other special-use domains
    (.localhost, .invalid, .local...) stay refused. The service sends no mail, so
    deliverability is not checked.
    """
    try:
        checked = email_validator.validate_email(
            value, check_deliverability=False, test_environment=True
        )
    except email_validator.EmailNotValidError as error:
        raise ValueError(f"value is not a valid email address: {error}") from None
    return checked.normalized


Email = Annotated[
    str,
    AfterValidator(_valid_email),
    WithJsonSchema(
        {
            "type": "string",
            "format": "email",
            "description": "Special-use domains other than .test are refused.",
        }
    ),
]


class Credentials(BaseModel):
    email: Email
    password: Password

    @field_validator("email")
    @classmethod
    def _normalize_email(cls, value: str) -> str:
        return value.lower()


class LoginRequest(BaseModel):
    """Login takes any address: one that no account has is simply wrong (401), and not
    validating it reveals nothing about which addresses the service would accept."""

    email: Annotated[str, Field(min_length=1, max_length=320, pattern=r"^[^\x00]*$")]
    password: Annotated[str, Field(min_length=1, max_length=128)]

    @field_validator("email")
    @classmethod
    def _normalize_email(cls, value: str) -> str:
        return value.strip().lower()


class RefreshRequest(BaseModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=256)]


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int = Field(description="Seconds until the access token expires.")


class RegistrationAccepted(BaseModel):
    """The one answer to every accepted sign-up, new email or taken."""

    detail: str


REGISTRATION_ACCEPTED = RegistrationAccepted(
    detail="Registration accepted: if this email had no account, it has one now with this "
    "password. Log in to continue; an email that already had an account keeps its own password."
)
