"""Chat text -> a Command, or a ParseError that tells the person what to type instead.

The same words arrive from Teams (with `<at>Bot</at>` mentions and a little HTML), from Google
Chat (with `@Bot` in the text) and from the CLI, so the text is cleaned first. `parse` never
raises: whatever arrives, the answer is a Command or a helpful ParseError. Pure: no I/O library
is imported here (import-linter checks it).
"""

from __future__ import annotations

import difflib
import html
import re
import unicodedata
from dataclasses import dataclass

from core.commands.catalog import AUDIT_MAX, BY_NAME, COMMANDS, CommandSpec
from core.model import DirectoryKind, Role

MAX_TEXT = 2000  # longer than any command with a mention and some HTML around it
MAX_ARGUMENT = 256
_MAX_MENTION_WORDS = 5  # a bot's display name after `@` has at most this many words

_AT_TAG = re.compile(r"<at\b[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(
    r"</?(?:a|p|div|span|br|b|i|u|s|strong|em|code|pre|font|blockquote)\b[^>]*>", re.IGNORECASE
)
_EMAIL = re.compile(
    r"^(?=.{3,254}$)(?=[^@]{1,64}@)"
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$"
)
_ROLES = {"microsoft": Role.MICROSOFT_PRIMARIES, "google": Role.GOOGLE_PRIMARIES}
_DIRECTORIES = {"entra": DirectoryKind.ENTRA, "google": DirectoryKind.GOOGLE}
_MISSING = {
    "role": "which platform (`microsoft` or `google`)",
    "directory": "which directory (`entra` or `google`)",
    "email": "an email address",
    "group": "the group (its id, address or name)",
    "text": "what to look for (the start of a group's name or address)",
    "team": "the team (its name or id)",
    "orgunit": "which users: `all`, or an org unit's path like /Sales",
    "page": "the page number",
}
# placeholders that take the rest of the line (or, followed by more, as few words as fit)
_REST = frozenset({"topic", "group", "text", "team", "orgunit"})
PAGE_MAX = 100_000  # `user sync`: 25 a page, so 2,500,000 entries
_QUOTES = "\"'“”‘’«»"


@dataclass(frozen=True, slots=True)
class Command:
    """A recognised command with its arguments. `text` is the cleaned text, for replies."""

    name: str
    text: str
    role: Role | None = None
    directory: DirectoryKind | None = None
    email: str | None = None
    group: str | None = None
    count: int | None = None
    topic: str | None = None
    query: str | None = None  # `groups find`, `user sync`: what to look for
    source: str | None = None  # a team's name or id; an org unit's path (`/`: all users)
    page: int | None = None  # `user sync`: which page

    @property
    def spec(self) -> CommandSpec:
        return BY_NAME[self.name]


@dataclass(frozen=True, slots=True)
class ParseError:
    """Why the text is not a command. `command` names the command it looked like when only the
    words after it were wrong (so access control and the audit can still name it)."""

    message: str
    text: str
    command: str | None = None
    suggestions: tuple[str, ...] = ()


# ---- the grammar, compiled once from the catalog ---------------------------------------------
@dataclass(frozen=True, slots=True)
class _Slot:
    kind: str  # "word" or a placeholder: role, directory, email, group, n, topic, text, team,
    # orgunit, page
    word: str = ""
    optional: bool = False


@dataclass(frozen=True, slots=True)
class _Form:
    spec: CommandSpec
    head: tuple[str, ...]  # the leading words that must be there: they name the command
    rest: tuple[_Slot, ...]


def _compile(spec: CommandSpec, form: str) -> _Form:
    slots: list[_Slot] = []
    for raw in form.split():
        optional = raw.startswith("[") and raw.endswith("]")
        inner = raw[1:-1] if optional else raw
        if inner.startswith("<") and inner.endswith(">"):
            slots.append(_Slot(inner[1:-1], optional=optional))
        else:
            slots.append(_Slot("word", inner, optional))
    head: list[str] = []
    for slot in slots:
        if slot.kind != "word" or slot.optional:
            break
        head.append(slot.word)
    return _Form(spec, tuple(head), tuple(slots[len(head) :]))


_FORMS: tuple[_Form, ...] = tuple(_compile(s, f) for s in COMMANDS for f in s.forms)


# ---- matching ---------------------------------------------------------------------------------
Value = Role | DirectoryKind | str | int


@dataclass(frozen=True, slots=True)
class _Miss:
    at: int  # how far into the words the match got: the deepest miss explains best
    message: str


def _take(slot: _Slot, word: str) -> Value | _Miss:
    folded = word.casefold()
    if slot.kind == "word":
        return word if folded == slot.word else _Miss(0, f"expected `{slot.word}`")
    if slot.kind == "role":
        role = _ROLES.get(folded)
        if role:
            return role
        return _Miss(0, f"`{_show(word)}` is not a platform: say `microsoft` or `google`")
    if slot.kind == "directory":
        directory = _DIRECTORIES.get(folded)
        if directory:
            return directory
        return _Miss(0, f"`{_show(word)}` is not a directory: say `entra` or `google`")
    if slot.kind == "email":
        return _email_or_miss(word)
    if slot.kind in ("group", "text", "team", "orgunit"):
        value = unquote(word)
        if len(value) > MAX_ARGUMENT:
            return _Miss(0, f"that is too long (at most {MAX_ARGUMENT} characters)")
        if not value:
            return _Miss(0, f"missing {_MISSING[slot.kind]}")
        return _org_unit(value) if slot.kind == "orgunit" else value
    if slot.kind == "n":
        if not word.isascii() or not word.isdigit() or not 1 <= int(word) <= AUDIT_MAX:
            return _Miss(0, f"`{_show(word)}` is not a number from 1 to {AUDIT_MAX}")
        return int(word)
    if slot.kind == "page":
        digits = word.isascii() and word.isdigit() and len(word) <= len(str(PAGE_MAX))
        if not digits or not 1 <= int(word) <= PAGE_MAX:
            return _Miss(0, f"`{_show(word)}` is not a page number (1, 2, ...)")
        return int(word)
    return _Miss(0, f"unknown slot {slot.kind}")


def _org_unit(value: str) -> str | _Miss:
    """`all` -> `/` (the whole tenant); a path from the top (`/Sales/EMEA`) as typed, without a
    trailing slash. Google names org units by such paths."""
    if value.casefold() == "all":
        return "/"
    if not value.startswith("/"):
        return _Miss(
            0,
            f"`{_show(value)}` is not an org unit path: say `all`, or the path from the top "
            "like /Sales",
        )
    return value.rstrip("/") or "/"


def _email_or_miss(word: str) -> str | _Miss:
    """The email address in `word`, lower-cased, or why it is not one. Chat clients wrap
    addresses (`<a@b.c>`, `mailto:`), and people end sentences with a full stop."""
    candidate = word.strip("<>\"'()[],;").removeprefix("mailto:").rstrip(".").casefold()
    if len(candidate) <= 254 and _EMAIL.match(candidate):
        return candidate
    return _Miss(0, f"`{_show(word)}` is not an email address (like ann@contoso.com)")


def _match(
    slots: tuple[_Slot, ...], words: list[str], at: int, found: dict[str, Value]
) -> dict[str, Value] | _Miss:
    if not slots:
        if at == len(words):
            return found
        return _Miss(at, f"I did not expect `{_show(words[at])}` there")
    slot, rest = slots[0], slots[1:]
    if slot.kind in _REST:
        if at >= len(words):
            if slot.optional:
                return _match(rest, words, at, found)
            return _Miss(at, f"missing {_MISSING.get(slot.kind, slot.kind)}")
        if rest:
            return _match_inner(slot, rest, words, at, found)
        line = " ".join(words[at:])
        value = line if slot.kind == "topic" else _take(slot, line)
        if isinstance(value, _Miss):
            return _Miss(at, value.message)
        return _match(rest, words, len(words), {**found, slot.kind: value})
    misses: list[_Miss] = []
    if at < len(words):
        value = _take(slot, words[at])
        if isinstance(value, _Miss):
            if not (slot.optional and slot.kind == "word"):  # such a word is simply skipped
                misses.append(_Miss(at, value.message))
        else:
            taken = _match(rest, words, at + 1, {**found, slot.kind: value})
            if not isinstance(taken, _Miss):
                return taken
            misses.append(taken)
    elif not slot.optional:
        return _Miss(at, f"missing {_MISSING.get(slot.kind, slot.kind)}")
    if slot.optional:
        skipped = _match(rest, words, at, found)
        if not isinstance(skipped, _Miss):
            return skipped
        misses.append(skipped)
    return max(misses, key=lambda m: m.at)


def _match_inner(
    slot: _Slot, rest: tuple[_Slot, ...], words: list[str], at: int, found: dict[str, Value]
) -> dict[str, Value] | _Miss:
    """A rest-of-line slot with more slots after it (`user sync [<text>] page <page>`): none
    of the words if it is optional and the rest fits, else as few words as let the rest fit."""
    misses: list[_Miss] = []
    if slot.optional:
        skipped = _match(rest, words, at, found)
        if not isinstance(skipped, _Miss):
            return skipped
        misses.append(skipped)
    for end in range(at + 1, len(words) + 1):
        value = _take(slot, " ".join(words[at:end]))
        if isinstance(value, _Miss):
            misses.append(_Miss(at, value.message))
            continue
        taken = _match(rest, words, end, {**found, slot.kind: value})
        if not isinstance(taken, _Miss):
            return taken
        misses.append(taken)
    return max(misses, key=lambda m: m.at)


def _command(spec: CommandSpec, found: dict[str, Value], text: str) -> Command:
    role, directory = found.get("role"), found.get("directory")
    email, group, count, topic, query = (
        found.get("email"),
        found.get("group"),
        found.get("n"),
        found.get("topic"),
        found.get("text"),
    )
    source, page = found.get("team", found.get("orgunit")), found.get("page")
    return Command(
        name=spec.name,
        text=text,
        role=role if isinstance(role, Role) else None,
        directory=directory if isinstance(directory, DirectoryKind) else None,
        email=email if isinstance(email, str) else None,
        group=group if isinstance(group, str) else None,
        count=count if isinstance(count, int) else None,
        topic=topic if isinstance(topic, str) else None,
        query=query if isinstance(query, str) else None,
        source=source if isinstance(source, str) else None,
        page=page if isinstance(page, int) else None,
    )


# ---- cleaning ---------------------------------------------------------------------------------
def clean(text: str) -> str:
    """Mentions, HTML, control and invisible characters out; whitespace collapsed; a leading
    `/` and a trailing `?`, `!` or `.` dropped."""
    text = _HTML_TAG.sub(" ", _AT_TAG.sub(" ", text))
    text = html.unescape(text)
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf":  # zero-width spaces, direction marks
            continue
        kept.append(" " if category in ("Cc", "Cs", "Zs", "Zl", "Zp") else char)
    text = " ".join("".join(kept).split())
    return text.lstrip("/").rstrip("?!.").strip()


def unquote(text: str) -> str:
    """A name as typed, without the quotes around it (straight or curly, as phones type
    them): `"Chat users"` -> `Chat users`."""
    text = text.strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def _show(text: str, limit: int = 40) -> str:
    """Text echoed back inside backticks: short, and unable to close the backticks."""
    text = text.replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- the entry point --------------------------------------------------------------------------
def parse(text: str) -> Command | ParseError:
    """One message -> Command or ParseError. Never raises."""
    try:
        return _parse(text)
    except Exception as error:  # the promise is "never raises"; say what happened instead
        return ParseError(f"I could not read that ({type(error).__name__}); try `help`", "")


def _parse(text: str) -> Command | ParseError:
    if len(text) > MAX_TEXT:
        return ParseError(
            f"That is too long for a command ({len(text)} characters); `help` lists them.",
            text[:100],
        )
    cleaned = clean(text)
    words = cleaned.split()
    if words and words[0].startswith("@"):
        return _after_mention(words)
    return _parse_words(words)


def _after_mention(words: list[str]) -> Command | ParseError:
    """`@Sync Bot sync status`: the bot's name may have spaces, so drop one more word while
    what is left is not a command. Only capitalised words are taken for part of a name, so a
    typo is never dropped into a different command (`@Sync Bot do not sync now` is refused)."""
    drop = 1
    while True:
        rest = words[drop:]
        if rest:
            rest[0] = rest[0].lstrip("/")
        parsed = _parse_words([w for w in rest if w])
        if isinstance(parsed, Command):
            return parsed
        more = drop < min(len(words), _MAX_MENTION_WORDS)
        if not (more and words[drop][:1].isupper()):
            return parsed
        drop += 1


def _parse_words(words: list[str]) -> Command | ParseError:
    text = " ".join(words)
    if not words:
        return ParseError("Say a command, for example `sync status`; `help` lists them.", text)
    folded = [w.casefold() for w in words]
    best: tuple[int, int, _Form, _Miss] | None = None
    for form in _FORMS:
        size = len(form.head)
        if tuple(folded[:size]) != form.head:
            continue
        found = _match(form.rest, words, size, {})
        if not isinstance(found, _Miss):
            return _command(form.spec, found, text)
        rank = (size, found.at)
        if best is None or rank > best[:2]:
            best = (size, found.at, form, found)
    longer = _starting_with(folded)
    if best is not None and best[0] < len(folded) and longer:
        # `import google` is the start of `import google users ...`, not `import` with a typo
        return _not_on_its_own(text, longer)
    if best is not None:
        spec = best[2].spec
        return ParseError(
            f"{_capital(best[3].message)}. Usage: `{spec.usage}`", text, command=spec.name
        )
    return _unknown(words, folded, text)


def _capital(message: str) -> str:
    return message[:1].upper() + message[1:]


def _unknown(words: list[str], folded: list[str], text: str) -> ParseError:
    starts = _starting_with(folded)
    if starts:
        return _not_on_its_own(text, starts)
    guess = _closest(words, folded)
    hint = f" Did you mean `{_show(guess, 80)}`?" if guess else ""
    return ParseError(
        f"I don't know `{_show(text)}`.{hint} Say `help` to see the commands.",
        text,
        suggestions=(guess,) if guess else (),
    )


def _not_on_its_own(text: str, starts: list[CommandSpec]) -> ParseError:
    listed = _or_list([f"`{s.usage}`" for s in starts])
    return ParseError(
        f"`{_show(text)}` is not a command on its own: did you mean {listed}?",
        text,
        suggestions=tuple(s.usage for s in starts),
    )


def _starting_with(folded: list[str]) -> list[CommandSpec]:
    """Commands whose name begins with exactly these words (`sync` -> the three sync ones)."""
    specs: list[CommandSpec] = []
    for form in _FORMS:
        head = form.head
        begins = len(folded) < len(head) and tuple(folded) == head[: len(folded)]
        if begins and form.spec not in specs:
            specs.append(form.spec)
    return specs


def _closest(words: list[str], folded: list[str]) -> str | None:
    """The likely intended command: the best near-miss of a command's leading words, with the
    rest of what was typed kept (`pasue google` -> `pause google`)."""
    best: tuple[float, _Form] | None = None
    for form in _FORMS:
        size = len(form.head)
        if size == 0 or len(folded) < size:
            continue
        typed = " ".join(folded[:size])
        score = difflib.SequenceMatcher(None, typed, " ".join(form.head)).ratio()
        if best is None or score > best[0]:
            best = (score, form)
    if best is None or best[0] < 0.75:
        return None
    form = best[1]
    fixed = [*form.head, *words[len(form.head) :]]
    if isinstance(_parse_words(fixed), Command):
        return " ".join(fixed)
    return form.spec.usage


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def topic_specs(topic: str) -> list[CommandSpec]:
    """The commands `help <topic>` is about: the one the topic parses as, else every command
    whose name starts with it (`help sync`)."""
    parsed = parse(topic)
    if isinstance(parsed, Command):
        return [parsed.spec]
    if parsed.command is not None:
        return [BY_NAME[parsed.command]]
    folded = [w.casefold() for w in clean(topic).split()]
    return [s for s in COMMANDS if s.name.split()[: len(folded)] == folded] if folded else []
