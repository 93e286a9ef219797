"""The directory clients meet the vendors' validation rules before the emulators (which enforce
them, as the real services do) have to refuse anything: over loopback HTTP.

- Google: an address whose username breaks Google's rules is a per-user error naming the rule,
  and no users.insert is sent; names lose the characters Google refuses and are cut to 60.
- Entra: displayName is cut to 256 characters and givenName/surname to 64, Graph's limits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from core.errors import DirectoryError
from core.marked_writes import MarkedWrites
from core.model import AccountSpec, DirectoryKind, Role, marker_for
from emulators.microsoft import Tenant

from .test_entra_client import TENANT
from .test_entra_client import Setup as EntraSetup
from .test_entra_client import connect as connect_entra
from .test_google_client import INTEROP, connect_to, new_workspace
from .test_google_client import Setup as GoogleSetup


@pytest.fixture
async def google() -> AsyncIterator[GoogleSetup]:
    async for setup in connect_to(new_workspace()):
        yield setup


@pytest.fixture
async def entra() -> AsyncIterator[EntraSetup]:
    async for setup in connect_entra(Tenant(tenant_id=TENANT)):
        yield setup


def microsoft_primary(email: str, name: str, given: str = "", family: str = "") -> AccountSpec:
    return AccountSpec(
        Role.MICROSOFT_PRIMARIES, DirectoryKind.ENTRA, "e-1", email, name, given, family
    )


def google_primary(email: str, name: str, given: str = "", family: str = "") -> AccountSpec:
    return AccountSpec(
        Role.GOOGLE_PRIMARIES, DirectoryKind.GOOGLE, "g-1", email, name, given, family
    )


async def test_a_username_google_refuses_is_an_error_naming_the_rule(google: GoogleSetup) -> None:
    # The address policy never asks for one (`+` becomes a dash: the next test); a username
    # given by hand that breaks Google's rules is refused before any call, naming the rule.
    wanted = dataclasses.replace(
        microsoft_primary("ann+test@contoso.com", "Ann Lee", "Ann", "Lee"),
        usernames=("ann+test",),
    )

    with pytest.raises(DirectoryError) as raised:
        await google.google.create_account(wanted)

    assert raised.value.permanent
    assert raised.value.message == (
        f"cannot create ann+test@{INTEROP}: its username contains '+' (Google allows only "
        "letters, numbers, dashes, underscores, apostrophes and periods)"
    )
    assert google.emulator.stats.by_kind.get("directory.users.insert", 0) == 0
    assert google.workspace.find_user(f"ann+test@{INTEROP}") is None


async def test_the_address_policy_turns_a_plus_into_a_dash(google: GoogleSetup) -> None:
    account = await google.google.create_account(
        microsoft_primary("ann+test@contoso.com", "Ann Lee", "Ann", "Lee")
    )
    assert account.email == f"ann-test@{INTEROP}"
    assert google.workspace.find_user(f"ann-test@{INTEROP}") is not None


async def test_names_google_refuses_are_cleaned_and_cut(google: GoogleSetup) -> None:
    wanted = microsoft_primary("ann@contoso.com", "<Ann> Lee", "<Ann>", "L" * 70)
    empty = microsoft_primary("bob@contoso.com", "<> <>", "<>", "<>")

    account = await google.google.create_account(wanted)
    other = await google.google.create_account(empty)

    stored = google.workspace.get_user(account.id)
    assert (stored.given_name, stored.family_name) == ("Ann", "L" * 60)
    assert (account.given_name, account.family_name) == ("Ann", "L" * 60)
    assert account.marker == marker_for(DirectoryKind.ENTRA, "e-1")
    assert (other.given_name, other.family_name) == ("-", "-")


async def test_entra_names_are_cut_to_graphs_lengths(entra: EntraSetup) -> None:
    wanted = google_primary("gil@example.com", "G" * 300, "N" * 70, "S" * 65)

    account = await entra.entra.create_account(wanted)
    await MarkedWrites(entra.entra).update_account(account.id, wanted)

    stored = entra.tenant.get_user(account.id)
    assert (stored.display_name, stored.given_name, stored.surname) == (
        "G" * 256,
        "N" * 64,
        "S" * 64,
    )
    assert stored.extension_attributes["extensionAttribute15"] == wanted.marker
