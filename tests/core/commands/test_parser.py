"""The parser, one row per way of saying a command, and one per way of getting it wrong."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.commands.catalog import BY_NAME, COMMANDS
from core.commands.parser import Command, ParseError, parse, topic_specs
from core.model import DirectoryKind, Role

MS, GG = Role.MICROSOFT_PRIMARIES, Role.GOOGLE_PRIMARIES

# text -> (command name, the arguments it must carry)
ACCEPTED: list[tuple[str, str, dict[str, object]]] = [
    ("help", "help", {}),
    ("HELP", "help", {}),
    ("help sync now", "help", {"topic": "sync now"}),
    ("sync status", "sync status", {}),
    ("status", "sync status", {}),
    ("  Sync   STATUS  ", "sync status", {}),
    ("/sync status", "sync status", {}),
    ("sync status?", "sync status", {}),
    ("@Sync Bot sync status", "sync status", {}),
    ("@dirsync status", "sync status", {}),
    ("@Sync Bot Status", "sync status", {}),
    ("@Dirsync Sync status", "sync status", {}),
    ("@Sync Bot /resync user ann@contoso.com", "resync user", {"email": "ann@contoso.com"}),
    ("<at>Sync Bot</at> sync status", "sync status", {}),
    ("<at>Sync Bot</at>&nbsp;/status", "sync status", {}),
    ("<p><at>Sync</at> sync now</p>", "sync now", {}),
    ("sync\u200b now", "sync now", {}),  # a zero-width space pasted from a web page
    ("sync\tnow\n", "sync now", {}),
    ("sync now", "sync now", {}),
    ("sync preview", "sync preview", {}),
    ("preview", "sync preview", {}),
    ("import", "import", {}),
    ("Import and sync users", "import", {}),
    ("pause google primaries", "pause", {"role": GG}),
    ("Pause Google Primaries", "pause", {"role": GG}),
    ("pause google", "pause", {"role": GG}),
    ("pause microsoft primaries", "pause", {"role": MS}),
    ("pause microsoft", "pause", {"role": MS}),
    ("resume google primaries", "resume", {"role": GG}),
    ("resume microsoft", "resume", {"role": MS}),
    ("resync user ann@contoso.com", "resync user", {"email": "ann@contoso.com"}),
    ("resync user Ann@Contoso.COM", "resync user", {"email": "ann@contoso.com"}),
    ("resync ann@contoso.com", "resync user", {"email": "ann@contoso.com"}),
    ("user ann@contoso.com", "user", {"email": "ann@contoso.com"}),
    ("user ann@contoso.com.", "user", {"email": "ann@contoso.com"}),
    ("user <ann@contoso.com>", "user", {"email": "ann@contoso.com"}),
    ("user mailto:ann@contoso.com", "user", {"email": "ann@contoso.com"}),
    (
        'user <a href="mailto:ann@contoso.com">ann@contoso.com</a>',
        "user",
        {"email": "ann@contoso.com"},
    ),
    ("user o'neil+chat@sub.contoso.co.uk", "user", {"email": "o'neil+chat@sub.contoso.co.uk"}),
    ("groups", "groups", {}),
    (
        "assign google primaries entra sg-chat@contoso.com",
        "assign",
        {"role": GG, "directory": DirectoryKind.ENTRA, "group": "sg-chat@contoso.com"},
    ),
    (
        "assign microsoft primaries google 03x7abc",
        "assign",
        {"role": MS, "directory": DirectoryKind.GOOGLE, "group": "03x7abc"},
    ),
    (
        "ASSIGN Google Entra 4F1C-ab",  # `primaries` is optional; the id keeps its case
        "assign",
        {"role": GG, "directory": DirectoryKind.ENTRA, "group": "4F1C-ab"},
    ),
    (
        "assign google primaries to entra group sg-chat",
        "assign",
        {"role": GG, "directory": DirectoryKind.ENTRA, "group": "sg-chat"},
    ),
    (  # a display name: the rest of the line, its case kept
        "assign google primaries entra Chat Users EU",
        "assign",
        {"role": GG, "directory": DirectoryKind.ENTRA, "group": "Chat Users EU"},
    ),
    (  # quoted (curly quotes, as phones type them): a name that starts with `group` stays whole
        "assign microsoft primaries google \u201cGroup Chat\u201d",
        "assign",
        {"role": MS, "directory": DirectoryKind.GOOGLE, "group": "Group Chat"},
    ),
    ('assign google entra "Sales  team"', "assign", {"group": "Sales team"}),
    ("groups find chat", "groups find", {"query": "chat"}),
    ("Groups Find Chat Users", "groups find", {"query": "Chat Users"}),
    ("find groups 'sales team'", "groups find", {"query": "sales team"}),
    ("@Sync Bot groups find sg-", "groups find", {"query": "sg-"}),
    ("held deletions", "held deletions", {}),
    ("Held", "held deletions", {}),
    ("approve deletions", "approve deletions", {}),
    ("approve deletion", "approve deletions", {}),
    ("discard deletions", "discard deletions", {}),
    ("discard held deletions", "discard deletions", {}),
    ("errors", "errors", {}),
    ("failures", "errors", {}),
    ("audit", "audit", {"count": None}),
    ("audit 1", "audit", {"count": 1}),
    ("audit 200", "audit", {"count": 200}),
    ("set audit channel here", "set audit channel here", {}),
    ("Set Audit Space Here", "set audit channel here", {}),
    ("sources", "sources", {}),
    ("user sync", "user sync", {"query": None, "page": None}),
    ("User Sync ann", "user sync", {"query": "ann", "page": None}),
    ("user sync page 3", "user sync", {"query": None, "page": 3}),
    ("user sync Ann Archer page 2", "user sync", {"query": "Ann Archer", "page": 2}),
    ("users", "user sync", {"query": None, "page": None}),
    ("users contoso page 12", "user sync", {"query": "contoso", "page": 12}),
    ("user sync@contoso.com", "user", {"email": "sync@contoso.com"}),  # an address, not a list
    ("user synced.ann@contoso.com", "user", {"email": "synced.ann@contoso.com"}),
    ("import team Project Falcon", "import team", {"source": "Project Falcon"}),
    ('import team "Project Falcon"', "import team", {"source": "Project Falcon"}),
    (
        "import team 0f6c3a52-9d1e-4b7a-8c2d-1e2f3a4b5c6d",
        "import team",
        {"source": "0f6c3a52-9d1e-4b7a-8c2d-1e2f3a4b5c6d"},
    ),
    ("remove team project falcon", "remove team", {"source": "project falcon"}),
    ("stop importing team Falcon", "remove team", {"source": "Falcon"}),
    ("import google users all", "import google users", {"source": "/"}),
    ("import google users org unit /Sales", "import google users", {"source": "/Sales"}),
    ("import google users /Sales/EMEA/", "import google users", {"source": "/Sales/EMEA"}),
    ("import google users '/Sales Team'", "import google users", {"source": "/Sales Team"}),
    ("stop importing google users", "stop importing google users", {"source": None}),
    ("stop importing google users ALL", "stop importing google users", {"source": "/"}),
    (
        "stop importing google users unit /Sales",
        "stop importing google users",
        {"source": "/Sales"},
    ),
]


@pytest.mark.parametrize(("typed", "name", "args"), ACCEPTED)
def test_accepted(typed: str, name: str, args: dict[str, object]) -> None:
    parsed = parse(typed)
    assert isinstance(parsed, Command), parsed
    assert parsed.name == name
    for key, value in args.items():
        assert getattr(parsed, key) == value, key


def test_every_command_in_the_table_has_accepted_examples() -> None:
    assert {name for _, name, _ in ACCEPTED} == set(BY_NAME)


# text -> (command it was recognised as, or None, and words the message must contain)
REJECTED: list[tuple[str, str | None, list[str]]] = [
    ("", None, ["Say a command", "`help`"]),
    ("   \x00\x07  ", None, ["Say a command"]),
    ("@Bot", None, ["Say a command"]),
    ("@Sync Bot", None, ["Say a command"]),
    ("@Sync Bot blah", None, ["I don't know `blah`"]),
    ("@Sync Bot sycn status", None, ["I don't know `sycn status`", "`sync status`?"]),
    ("@Sync Bot do not sync now", None, ["I don't know `do not sync now`"]),
    ("frobnicate", None, ["I don't know `frobnicate`", "`help`"]),
    ("sync stauts", None, ["Did you mean `sync status`?"]),
    ("halp", None, ["Did you mean `help`?"]),
    ("pasue google primaries", None, ["Did you mean `pause google primaries`?"]),
    ("usr ann@contoso.com", None, ["Did you mean `user ann@contoso.com`?"]),
    ("sync", None, ["not a command on its own", "`sync status`", "`sync now`", "`sync preview`"]),
    ("approve", None, ["did you mean `approve deletions`?"]),
    ("user", "user", ["Missing an email address", "Usage: `user <email>`"]),
    ("user ann", "user", ["`ann` is not an email address", "Usage: `user <email>`"]),
    ("user ann@", "user", ["`ann@` is not an email address"]),
    ("user @contoso.com", "user", ["is not an email address"]),
    ("user ann@contoso", "user", ["is not an email address"]),
    ("user ann@@contoso.com", "user", ["is not an email address"]),
    ("user ann@contoso.com bob@contoso.com", "user", ["did not expect `bob@contoso.com`"]),
    ("resync user", "resync user", ["Missing an email address", "`resync user <email>`"]),
    ("resync user bob", "resync user", ["`bob` is not an email address"]),
    ("pause", "pause", ["Missing which platform", "`microsoft` or `google`"]),
    ("pause gogle", "pause", ["`gogle` is not a platform"]),
    ("pause google secondaries", "pause", ["did not expect `secondaries`"]),
    ("assign", "assign", ["Missing which platform", "Usage: `assign <microsoft|google>"]),
    ("assign google primaries", "assign", ["Missing which directory", "`entra` or `google`"]),
    ("assign google primaries azure x", "assign", ["`azure` is not a directory"]),
    ("assign google primaries entra", "assign", ["Missing the group (its id, address or name)"]),
    ('assign google primaries entra ""', "assign", ["Missing the group"]),
    ("assign google primaries entra " + "x" * 300, "assign", ["at most 256 characters"]),
    ("groups find", "groups find", ["Missing what to look for", "Usage: `groups find <text>`"]),
    ("groups find ''", "groups find", ["Missing what to look for"]),
    ("audit 0", "audit", ["`0` is not a number from 1 to 200", "Usage: `audit [N]`"]),
    ("audit 201", "audit", ["`201` is not a number from 1 to 200"]),
    ("audit -5", "audit", ["is not a number from 1 to 200"]),
    ("audit ten", "audit", ["`ten` is not a number"]),
    ("audit ²", "audit", ["is not a number"]),
    ("status please", "sync status", ["did not expect `please`", "Usage: `sync status`"]),
    ("x" * 5000, None, ["too long"]),
    ("user `rm -rf`@x.com", "user", ["is not an email address"]),
    ("import team", "import team", ["Missing the team (its name or id)"]),
    ("remove team", "remove team", ["Missing the team", "`remove team <team name or id>`"]),
    ("import google", None, ["not a command on its own", "`import google users <all"]),
    ("import google users", "import google users", ["Missing which users: `all`"]),
    ("import google users Sales", "import google users", ["`Sales` is not an org unit path"]),
    ("stop importing google users sales", "stop importing google users", ["not an org unit"]),
    ("stop importing", None, ["`remove team <team name or id>` or `stop importing google users"]),
]


@pytest.mark.parametrize(("typed", "command", "words"), REJECTED)
def test_rejected(typed: str, command: str | None, words: list[str]) -> None:
    parsed = parse(typed)
    assert isinstance(parsed, ParseError), parsed
    assert parsed.command == command
    for word in words:
        assert word in parsed.message


def test_echoed_text_cannot_break_out_of_its_backticks() -> None:
    parsed = parse("what`s this")
    assert isinstance(parsed, ParseError)
    assert "`what's this`" in parsed.message


def test_help_topics_find_the_commands_they_name() -> None:
    assert [s.name for s in topic_specs("assign")] == ["assign"]
    assert [s.name for s in topic_specs("pause google")] == ["pause"]
    assert [s.name for s in topic_specs("sync")] == ["sync status", "sync now", "sync preview"]
    assert topic_specs("nothing like it") == []


def test_every_usage_line_parses_into_its_own_command_with_placeholders_filled() -> None:
    filled = {
        "<microsoft|google>": "google",
        "<entra|google>": "entra",
        "<group id, address or name>": "g1",
        "<text>": "chat",
        "<email>": "ann@contoso.com",
        "[N]": "5",
        "[command]": "groups",
        "<team name or id>": "Project Falcon",
        "<all | org unit /Path>": "org unit /Sales",
        "[all | org unit /Path]": "all",
        "[text]": "ann",
        "[page N]": "page 2",
    }
    for spec in COMMANDS:
        usage = spec.usage
        for placeholder, value in filled.items():
            usage = usage.replace(placeholder, value)
        parsed = parse(usage)
        assert isinstance(parsed, Command) and parsed.name == spec.name, usage


WORDS = sorted({w for s in COMMANDS for f in s.forms for w in f.split()} | {"a@b.co", "@Bot"})


@settings(max_examples=400)
@given(st.text())
def test_any_text_gives_a_command_or_a_helpful_error(typed: str) -> None:
    parsed = parse(typed)
    assert isinstance(parsed, Command | ParseError)
    if isinstance(parsed, ParseError):
        assert parsed.message


@settings(max_examples=400)
@given(st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join))
def test_any_mix_of_command_words_gives_a_command_or_a_helpful_error(typed: str) -> None:
    parsed = parse(typed)
    assert isinstance(parsed, Command | ParseError)
    if isinstance(parsed, ParseError):
        assert parsed.message
