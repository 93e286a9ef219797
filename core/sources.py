"""User Sync's imported sources: reading them for a run, and what a run saw of each.

Imported sources (Teams teams, Google tenant imports) only give visibility in User Sync: the
planner lists their people; they never create or delete an account. How often each is read:

- a team on every run (except `resync user`), as its Microsoft 365 group: incrementally
  through Graph group delta, afresh on full and import runs, like a primary group;
- a Google import (users.list with an `orgUnitPath` query, every page) on full and import runs,
  on runs an admin starts (`sync now`, `import team`, ...) and on the first run after it was
  added. Google has no delta for users, so an incremental read would be a full one: at 50,000
  users that is 100 pages every minute for a list that only gives visibility.

A read that fails keeps the source's entries as they were; the source is marked failing and an
alert is posted once, when it starts failing (a deleted team, say), not on every run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime

from core.audit import Auditor
from core.errors import DirectoryError, NotFound
from core.model import (
    DirectoryKind,
    GroupInfo,
    GroupType,
    ImportedSource,
    ReadFailure,
    SourceKind,
    SourceRead,
    SourceState,
)
from core.ports import DirectoryPort, Store

SourceReads = dict[str, SourceRead | ReadFailure]
SourcesSeen = dict[str, int | ReadFailure]  # by key: how many people a read listed, or why not


def due(source: ImportedSource, *, full: bool, by_command: bool) -> bool:
    """Whether a run reads this source (see the module's docstring)."""
    if source.kind is SourceKind.TEAM:
        return True
    return full or by_command or source.state is SourceState.NEW


def team_group(source: ImportedSource) -> GroupInfo:
    return GroupInfo(
        DirectoryKind.ENTRA, source.ref, source.name, type=GroupType.MICROSOFT_365, team=True
    )


async def read_sources(
    directories: Mapping[DirectoryKind, DirectoryPort],
    sources: Sequence[ImportedSource],
    *,
    full: bool,
    by_command: bool,
) -> SourceReads:
    """The sources this run reads, by key: what each gave, or why it failed."""
    reads: SourceReads = {}
    for source in sources:
        if due(source, full=full, by_command=by_command):
            reads[source.key] = await _read(directories, source, full=full)
    return reads


async def _read(
    directories: Mapping[DirectoryKind, DirectoryPort], source: ImportedSource, *, full: bool
) -> SourceRead | ReadFailure:
    directory = DirectoryKind.ENTRA if source.kind is SourceKind.TEAM else DirectoryKind.GOOGLE
    port = directories.get(directory)
    if port is None:
        return ReadFailure(f"the {directory.value} directory is not set up")
    try:
        if source.kind is SourceKind.TEAM:
            return await port.read_members(team_group(source), full=full)
        return await port.read_org_unit(source.ref)
    except NotFound as error:
        if source.kind is SourceKind.TEAM:
            return ReadFailure(f"the team was deleted or cannot be read any more ({error.message})")
        return ReadFailure(f"the org unit {source.ref} is gone ({error.message})")
    except DirectoryError as error:
        return ReadFailure(error.message)


def people(read: SourceRead) -> int:
    """How many people a read lists: our own accounts are not people of the source."""
    return sum(1 for user in read.users if not user.ours)


def people_seen(reads: SourceReads) -> SourcesSeen:
    return {k: people(read) if isinstance(read, SourceRead) else read for k, read in reads.items()}


def record_reads(
    store: Store, auditor: Auditor, reads: SourcesSeen, *, now: datetime, run_id: str
) -> None:
    """Save what the run saw of each source it read; alert once when one starts failing. A
    source removed while the run was reading it stays removed."""
    for key, read in reads.items():
        source = store.get_source(key)
        if source is None:
            continue
        if isinstance(read, int):
            if source.state is SourceState.FAILING:
                auditor.record(
                    "run",
                    "source recovered",
                    run_id=run_id,
                    target=source.label,
                    detail=f"{source.label} reads again ({read} people)",
                )
            store.save_source(
                dataclasses.replace(
                    source,
                    state=SourceState.OK,
                    error="",
                    members=read,
                    last_read_at=now,
                    last_tried_at=now,
                )
            )
            continue
        if source.state is not SourceState.FAILING:
            auditor.alert(
                "source failing",
                f"reading {source.label} failed: {read.error}. Its people stay in User Sync as "
                "they were; `sources` shows its state, `remove team` or `stop importing google "
                "users` drops it.",
                run_id=run_id,
                target=source.label,
            )
        store.save_source(
            dataclasses.replace(
                source, state=SourceState.FAILING, error=read.error, last_tried_at=now
            )
        )
