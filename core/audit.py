"""The one audit path: every command, configuration change and account change is stored here
first; the audit sink (bots) posts stored events to the admin channels afterwards."""

from __future__ import annotations

import dataclasses

from core.model import AuditEvent
from core.ports import Clock, Store


class Auditor:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def record(
        self,
        kind: str,
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
        event = AuditEvent(
            kind=kind,
            action=action,
            at=self.clock.now(),
            actor=actor,
            where=where,
            target=target,
            result=result,
            detail=detail,
            run_id=run_id,
            alert=alert,
        )
        event_id = self.store.add_audit(event)
        return dataclasses.replace(event, id=event_id)

    def alert(
        self, action: str, detail: str, *, run_id: str | None = None, target: str = ""
    ) -> None:
        self.record("alert", action, detail=detail, run_id=run_id, target=target, alert=True)
