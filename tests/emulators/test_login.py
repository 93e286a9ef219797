"""Microsoft identity: MSAL 1.x itself obtains tokens from the emulator, and Graph checks them.

MSAL uses blocking `requests`, so the emulator runs in an EmulatorThread here."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from emulators.microsoft import HttpsToHttpSession, Tenant, create_app
from emulators.runner import EmulatorThread

from .conftest import DOMAIN, TENANT_ID, HandClock

CLIENT_ID = "aaaaaaaa-0000-0000-0000-000000000001"
CERT_CLIENT_ID = "aaaaaaaa-0000-0000-0000-000000000002"
SECRET = "s3cret~value"
GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]


def make_certificate() -> tuple[str, str]:
    """A private key and a self-signed certificate, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dirsync test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def certificate() -> tuple[str, str]:
    return make_certificate()


@pytest.fixture
def clock() -> HandClock:
    """Tokens are signed with the real time: the tenant's clock starts there."""
    return HandClock(datetime.datetime.now(datetime.UTC).timestamp())


@pytest.fixture
def server(certificate: tuple[str, str], clock: HandClock) -> Iterator[EmulatorThread]:
    tenant = Tenant(tenant_id=TENANT_ID, domain=DOMAIN, clock=clock)
    tenant.add_app(CLIENT_ID, secret=SECRET)
    tenant.add_app(CERT_CLIENT_ID, certificate_pem=certificate[1])
    tenant.add_user(f"ann@{DOMAIN}")
    with EmulatorThread(create_app(tenant)) as thread:
        yield thread


def confidential_app(
    server: EmulatorThread, client_id: str, credential: Any, tenant: str = TENANT_ID
) -> msal.ConfidentialClientApplication:
    session = HttpsToHttpSession(server.base_url)
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=session.https_authority(tenant),
        http_client=session,
        instance_discovery=False,
    )


def graph_get(server: EmulatorThread, path: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with requests.Session() as session:
        session.trust_env = False
        return session.get(f"{server.base_url}/v1.0{path}", headers=headers, timeout=10)


def test_msal_with_a_secret_gets_a_token_graph_accepts(server: EmulatorThread) -> None:
    app = confidential_app(server, CLIENT_ID, SECRET, tenant=DOMAIN)

    result = app.acquire_token_for_client(GRAPH_SCOPE)
    again = app.acquire_token_for_client(GRAPH_SCOPE)
    users = graph_get(server, "/users", result["access_token"])

    assert result["token_type"] == "Bearer"
    assert 3500 < result["expires_in"] <= 3600
    assert again["token_source"] == "cache"
    assert users.status_code == 200
    assert users.json()["value"][0]["userPrincipalName"] == f"ann@{DOMAIN}"


@pytest.mark.parametrize("form", ["public_certificate", "thumbprint"])
def test_msal_with_a_certificate_gets_a_token(
    server: EmulatorThread, certificate: tuple[str, str], form: str
) -> None:
    """PS256 with x5t#S256 when MSAL has the certificate, RS256 with x5t with a thumbprint."""
    key_pem, cert_pem = certificate
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    credential: dict[str, str] = {"private_key": key_pem}
    if form == "thumbprint":
        credential["thumbprint"] = cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303
    else:
        credential["public_certificate"] = cert_pem

    result = confidential_app(server, CERT_CLIENT_ID, credential).acquire_token_for_client(
        GRAPH_SCOPE
    )

    assert "access_token" in result, result
    assert graph_get(server, "/users", result["access_token"]).status_code == 200


def test_msal_with_an_unregistered_certificate_gets_invalid_client(
    server: EmulatorThread,
) -> None:
    other_key, other_cert = make_certificate()
    credential = {"private_key": other_key, "public_certificate": other_cert}

    result = confidential_app(server, CERT_CLIENT_ID, credential).acquire_token_for_client(
        GRAPH_SCOPE
    )

    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [700027]


def test_msal_with_a_wrong_secret_returns_the_error_dict(server: EmulatorThread) -> None:
    result = confidential_app(server, CLIENT_ID, "wrong").acquire_token_for_client(GRAPH_SCOPE)

    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: ")
    assert "access_token" not in result


def test_msal_errors_for_unknown_app_and_scope(server: EmulatorThread) -> None:
    unknown = confidential_app(server, "not-registered", SECRET).acquire_token_for_client(
        GRAPH_SCOPE
    )
    scope = confidential_app(server, CLIENT_ID, SECRET).acquire_token_for_client(
        ["https://graph.microsoft.com/User.Read"]
    )

    assert (unknown["error"], unknown["error_codes"]) == ("unauthorized_client", [700016])
    assert (scope["error"], scope["error_codes"]) == ("invalid_scope", [1002012])


def test_openid_configuration_advertises_https_on_the_request_host(
    server: EmulatorThread,
) -> None:
    host = server.base_url.removeprefix("http://")
    with requests.Session() as session:
        session.trust_env = False
        config = session.get(
            f"{server.base_url}/{DOMAIN}/v2.0/.well-known/openid-configuration", timeout=10
        )
        unknown = session.get(
            f"{server.base_url}/fabrikam.com/v2.0/.well-known/openid-configuration", timeout=10
        )

    assert config.json()["token_endpoint"] == f"https://{host}/{TENANT_ID}/oauth2/v2.0/token"
    assert config.json()["issuer"] == f"https://{host}/{TENANT_ID}/v2.0"
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_tenant")


def test_graph_refuses_missing_foreign_and_expired_tokens(
    server: EmulatorThread, clock: HandClock
) -> None:
    token = confidential_app(server, CLIENT_ID, SECRET).acquire_token_for_client(GRAPH_SCOPE)[
        "access_token"
    ]

    missing = graph_get(server, "/users", None)
    garbage = graph_get(server, "/users", "not-a-token")
    valid = graph_get(server, "/users", token)
    clock.now += 3601
    expired = graph_get(server, "/users", token)

    for reply in (missing, garbage, expired):
        assert reply.status_code == 401
        assert reply.json()["error"]["code"] == "InvalidAuthenticationToken"
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert valid.status_code == 200
    assert "expired" in expired.json()["error"]["message"]
