"""The token endpoint with google-auth itself (service-account credentials with domain-wide
delegation), and how the APIs check the tokens it issues.

google-auth is synchronous (requests), so the emulator runs in a thread of its own here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import google.auth.transport.requests
import jwt
import pytest
import requests
from google.auth.exceptions import RefreshError
from google.oauth2 import service_account

from emulators.google import Workspace, create_app, emulator_of
from emulators.runner import EmulatorThread

from .conftest import (
    ADMIN,
    CLOUD_IDENTITY_SCOPE,
    DIRECTORY,
    GROUP_SCOPE,
    SERVICE_ACCOUNT,
    USER_SCOPE,
    KeyPair,
    new_key_pair,
    new_workspace,
    service_account_info,
)

DELEGATED = [USER_SCOPE, GROUP_SCOPE, CLOUD_IDENTITY_SCOPE]


@pytest.fixture
def registered(key_pair: KeyPair) -> Workspace:
    ws = new_workspace()
    ws.add_user("plain@example.com", "Plain", "User")
    ws.add_service_account(
        SERVICE_ACCOUNT, key_pair.public_pem, key_id="key-1", delegated_scopes=DELEGATED
    )
    return ws


@pytest.fixture
def server(registered: Workspace) -> Iterator[EmulatorThread]:
    with EmulatorThread(create_app(registered)) as running:
        yield running


def credentials(
    server: EmulatorThread,
    key: KeyPair,
    *,
    subject: str | None = ADMIN,
    scopes: list[str] | None = None,
) -> service_account.Credentials:
    info = service_account_info(key, server.base_url + "/token")
    return service_account.Credentials.from_service_account_info(
        info, scopes=scopes or [USER_SCOPE], subject=subject
    )


def refresh(creds: service_account.Credentials) -> None:
    creds.refresh(google.auth.transport.requests.Request())


def list_users(server: EmulatorThread, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(
        server.base_url + DIRECTORY + "/users",
        params={"customer": "my_customer"},
        headers=headers,
        timeout=10,
    )


def test_a_registered_key_gets_a_token_that_the_directory_accepts(
    server: EmulatorThread, key_pair: KeyPair
) -> None:
    creds = credentials(server, key_pair)

    refresh(creds)
    reply = list_users(server, creds.token)

    assert creds.token is not None and creds.token.startswith("ya29.")
    assert creds.expiry is not None
    assert reply.status_code == 200
    assert {u["primaryEmail"] for u in reply.json()["users"]} == {ADMIN, "plain@example.com"}
    stats = emulator_of(server.app).stats
    assert stats.tokens_issued == 1 and stats.by_kind["token"] == 1


def test_a_key_that_is_not_registered_is_an_invalid_grant(
    server: EmulatorThread,
) -> None:
    creds = credentials(server, new_key_pair())

    with pytest.raises(RefreshError, match=r"invalid_grant: Invalid JWT Signature\."):
        refresh(creds)


def test_an_unknown_service_account_is_an_invalid_grant(
    server: EmulatorThread, key_pair: KeyPair
) -> None:
    info = {**service_account_info(key_pair, server.base_url + "/token")}
    info["client_email"] = "stranger@elsewhere.iam.gserviceaccount.com"
    creds = service_account.Credentials.from_service_account_info(
        info, scopes=[USER_SCOPE], subject=ADMIN
    )

    with pytest.raises(RefreshError, match="account not found"):
        refresh(creds)


def test_a_subject_that_is_not_an_admin_gets_a_token_but_no_directory(
    server: EmulatorThread, key_pair: KeyPair
) -> None:
    # As with Google: domain-wide delegation may act as any user; the Directory API is what
    # refuses a non-administrator.
    creds = credentials(server, key_pair, subject="plain@example.com")

    refresh(creds)
    reply = list_users(server, creds.token)

    assert reply.status_code == 403
    error = reply.json()["error"]
    assert error["message"] == "Not Authorized to access this resource/api"
    assert error["errors"][0]["reason"] == "forbidden"


def test_a_subject_that_is_not_a_user_is_an_invalid_grant(
    server: EmulatorThread, key_pair: KeyPair
) -> None:
    creds = credentials(server, key_pair, subject="nobody@example.com")

    with pytest.raises(RefreshError, match="invalid_grant: Invalid email or User ID"):
        refresh(creds)


def test_scopes_beyond_the_delegation_are_an_unauthorized_client(
    server: EmulatorThread, key_pair: KeyPair
) -> None:
    creds = credentials(
        server, key_pair, scopes=["https://www.googleapis.com/auth/admin.directory.device.chromeos"]
    )

    with pytest.raises(RefreshError, match="unauthorized_client"):
        refresh(creds)


def test_without_a_subject_the_service_account_itself_is_not_an_admin(
    server: EmulatorThread, key_pair: KeyPair
) -> None:
    creds = credentials(server, key_pair, subject=None, scopes=["https://example.com/any"])

    refresh(creds)  # no delegation: any scope may be asked for

    assert list_users(server, creds.token).status_code == 403


def test_a_token_without_the_methods_scope_is_refused(
    server: EmulatorThread, key_pair: KeyPair
) -> None:
    creds = credentials(server, key_pair, scopes=[GROUP_SCOPE])

    refresh(creds)
    reply = list_users(server, creds.token)

    assert reply.status_code == 403
    error = reply.json()["error"]
    assert error["message"] == "Request had insufficient authentication scopes."
    assert error["errors"][0]["reason"] == "insufficientPermissions"
    assert error["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"


@pytest.mark.parametrize("token", [None, "ya29.made-up"])
def test_calls_without_a_valid_token_get_401(server: EmulatorThread, token: str | None) -> None:
    reply = list_users(server, token)

    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith('Bearer realm="https://accounts.google')
    error = reply.json()["error"]
    assert (error["status"], error["errors"][0]["reason"]) == ("UNAUTHENTICATED", "authError")


def test_revoked_tokens_are_refused(server: EmulatorThread, key_pair: KeyPair) -> None:
    creds = credentials(server, key_pair)
    refresh(creds)

    requests.post(server.base_url + "/_control/tokens/revoke", timeout=10)

    assert list_users(server, creds.token).status_code == 401


def assertion(key: KeyPair, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": SERVICE_ACCOUNT,
        "aud": "https://oauth2.googleapis.com/token",
        "iat": now,
        "exp": now + 3600,
        "scope": USER_SCOPE,
        "sub": ADMIN,
        **claims,
    }
    return jwt.encode(payload, key.private_pem, algorithm="RS256", headers={"kid": "key-1"})


def post_token(server: EmulatorThread, **form: str) -> requests.Response:
    return requests.post(server.base_url + "/token", data=form, timeout=10)


@pytest.mark.parametrize(
    ("claims", "error", "fragment"),
    [
        ({"aud": "https://elsewhere.example/token"}, "invalid_grant", "audience"),
        ({"iat": 1_000_000, "exp": 1_003_600}, "invalid_grant", "short-lived token"),
        (
            {"iat": int(time.time()), "exp": int(time.time()) + 7200},
            "invalid_grant",
            "short-lived token",
        ),
        ({"scope": ""}, "invalid_scope", "Empty or missing scope"),
    ],
)
def test_assertion_claims_are_checked(
    server: EmulatorThread, key_pair: KeyPair, claims: dict[str, Any], error: str, fragment: str
) -> None:
    reply = post_token(
        server,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=assertion(key_pair, **claims),
    )

    assert reply.status_code == 400
    assert reply.json()["error"] == error and fragment in reply.json()["error_description"]


def test_the_audience_may_be_the_emulators_own_token_url(
    server: EmulatorThread, key_pair: KeyPair
) -> None:
    reply = post_token(
        server,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=assertion(key_pair, aud=server.base_url + "/token"),
    )

    assert reply.status_code == 200
    assert reply.json()["token_type"] == "Bearer" and reply.json()["expires_in"] == 3599


def test_other_grant_types_and_missing_assertions_are_refused(server: EmulatorThread) -> None:
    wrong = post_token(server, grant_type="client_credentials")
    missing = post_token(server, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer")

    assert (wrong.status_code, wrong.json()["error"]) == (400, "unsupported_grant_type")
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
