"""How long a chat platform's bearer token may live. A token without `exp`, or made to live
longer than its platform documents, is refused even when its signature is good: the platforms
never issue one, so it was minted elsewhere, and it would stay usable as long as it says.

The lifetime runs from the token's `iat` (or `nbf` when it has no `iat`) to its `exp`; a token
with neither, or one that claims to be issued in the future, is measured from now, with
CLOCK_SKEW allowed for the difference between the issuer's clock and ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CLOCK_SKEW = 300.0  # seconds; the Bot Framework's page calls 5 minutes industry-standard

NO_EXPIRY = "no expiry"
TOO_LONG = "lifetime too long"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def lifetime_refusal(claims: Mapping[str, Any], maximum: float, now: float) -> str | None:
    """None when the token's lifetime is at most `maximum` seconds; otherwise the reason to
    refuse it: NO_EXPIRY or TOO_LONG."""
    expires = _number(claims.get("exp"))
    if expires is None:
        return NO_EXPIRY
    issued = _number(claims.get("iat"))
    if issued is None:
        issued = _number(claims.get("nbf"))
    if issued is None or issued > now:
        return TOO_LONG if expires - now > maximum + CLOCK_SKEW else None
    return TOO_LONG if expires - issued > maximum else None
