"""core/addresses.py: Google's username rules, named in words, and in agreement with what the
Google Workspace emulator (written apart) accepts."""

from __future__ import annotations

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from core.addresses import GOOGLE_USERNAME_CHARACTERS, google_username_problem
from emulators.google.user_rules import username_problem as emulator_username_problem

ALLOWED = "".join(sorted(GOOGLE_USERNAME_CHARACTERS))


@pytest.mark.parametrize(
    "local", ["ann", "Ann.Lee", "o'brien", "_ann-", "a", "a" * 64, "x.y.z", "0"]
)
def test_usernames_google_accepts(local: str) -> None:
    assert google_username_problem(local) is None


@pytest.mark.parametrize(
    ("local", "words"),
    [
        ("ann+test", "contains '+' (Google allows only letters, numbers, dashes, underscores"),
        ("<b>", "contains '<', '>'"),
        ("anné", "contains 'é'"),
        ("ann lee", "contains ' '"),
        ("", "is empty"),
        ("a" * 65, "is 65 characters long (Google allows at most 64)"),
        (".ann", "begins with a period"),
        ("ann.", "ends with a period"),
        ("ann..lee", "two periods in a row"),
        ("Postmaster", "is 'postmaster', a word Google reserves"),
        ("abuse", "reserves"),
    ],
)
def test_usernames_google_refuses_name_the_rule(local: str, words: str) -> None:
    problem = google_username_problem(local)

    assert problem is not None and words in problem


usernames = st.text(alphabet=ALLOWED, min_size=1, max_size=64)


@given(usernames)
def test_a_username_of_allowed_characters_fails_only_on_periods_or_reserved_words(
    local: str,
) -> None:
    problem = google_username_problem(local)

    breaks_a_period_rule = local.startswith(".") or local.endswith(".") or ".." in local
    reserved = local in ("abuse", "postmaster")
    assert (problem is None) == (not breaks_a_period_rule and not reserved)


@given(usernames, st.characters(), st.integers(min_value=0, max_value=64))
def test_any_other_character_is_refused_and_named(local: str, char: str, at: int) -> None:
    assume(char.lower() not in GOOGLE_USERNAME_CHARACTERS and len(char.lower()) == 1)
    candidate = local[:at] + char + local[at:]

    problem = google_username_problem(candidate)

    assert problem is not None and repr(char.lower()) in problem


@given(st.text(max_size=70) | st.text(alphabet=ALLOWED + "+.", max_size=70))
@example("ann+test")
@example("a" * 64)
@example("a" * 65)
@example("İ")  # lowers to two characters
def test_the_product_and_the_emulator_agree(local: str) -> None:
    """What the product lets through, the emulator accepts, and the other way round: a
    difference would be a retry loop (or a refusal Google would not make)."""
    assert (google_username_problem(local) is None) == (emulator_username_problem(local) is None)
