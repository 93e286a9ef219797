"""The one audit path: every command, configuration change and account change is stored here
first; the audit sink (bots) posts stored events to the admin channels afterwards. Every text of
an event is masked on the way in (core.masking), so a configured secret pasted into a command is
stored, listed and posted as ***."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from core.masking import mask
from core.model import AuditEvent, AuditKind
from core.ports import Clock, Store


def _no_secrets() -> Iterable[str]:
    return ()


class Auditor:
    def __init__(
        self, store: Store, clock: Clock, secrets: Callable[[], Iterable[str]] = _no_secrets
    ) -> None:
        self.store = store
        self.clock = clock
        # Asked at each event: secrets read later (a chat key file at start-up) are masked too.
        self.secrets = secrets

    def mask(self, text: str) -> str:
        """`text` with every configured secret replaced by ***."""
        return mask(text, self.secrets())

    def record(
        self,
        kind: AuditKind,
        action: str,
        *,
        actor: str = "system",
        where: str = "",
        target: str = "",
        result: str = "ok",
        detail: str = "",
        run_id: str | None = None,
        alert: bool = False,
    ) -> AuditEvent:
        secrets = tuple(self.secrets())
        event = AuditEvent(
            kind=kind,
            action=mask(action, secrets),
            at=self.clock.now(),
            actor=mask(actor, secrets),
            where=mask(where, secrets),
            target=mask(target, secrets),
            result=result,
            detail=mask(detail, secrets),
            run_id=run_id,
            alert=alert,
        )
        event_id = self.store.add_audit(event)
        return dataclasses.replace(event, id=event_id)

    def alert(
        self, action: str, detail: str, *, run_id: str | None = None, target: str = ""
    ) -> None:
        self.record("alert", action, detail=detail, run_id=run_id, target=target, alert=True)
