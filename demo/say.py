"""`dirsync say "<command>" --via teams|gchat [--state DIR] [--as EMAIL]`: talk to a running demo
as a person in Teams or Google Chat would, and print the bot's reply; with
`dirsync say --click "<command>" [--ref REF] --via teams|gchat`, click a card's button instead.

A reply's cards carry buttons (issue 16); `say` lists them under the reply, each with what
`--click` takes to press it (the button's command, and its `--ref` when it has one).

The message goes the way the platform sends it: a signed Bot Framework activity to the bot's
`POST /api/messages` (the reply is then read from what the bot posted to the channel
emulator's connector), or a signed Google Chat MESSAGE event to `POST /api/google-chat` (the
reply is the synchronous answer). So the bot's authentication, the asker's identity and the
access policy all apply, exactly as for a real person.

A click goes the way the platform sends it too, signed the same way: in Teams an `invoke`
activity (`adaptiveCard/action`, an `Action.Execute` with verb "dirsync" and the button's data
`{"command", "ref"}`) to `POST /api/messages`, whose answer is the invoke response (the updated
card, or a message for the clicker); in Google Chat a CARD_CLICKED event to
`POST /api/google-chat` on a card of the app's, whose synchronous answer updates the card
(UPDATE_MESSAGE) or is a private message. `say` prints that answer. A click that starts a run
(Sync now, Approve) is answered "Started" at once; in Teams `say` then waits for the outcome
the bot posts, within --timeout.

What the running demo must provide (`dirsync demo`):

- `<state>/demo.json`: the JSON object of its first stdout line: the emulators' URLs (at least
  `botframework` and `chat`) and `bot`, the service's base URL. Optional keys: `tenant_id`
  (the Entra tenant Teams activities come from; default demo.seed.TENANT_ID),
  `bot_app_id` (default: the audience of the channel's token, which is the bot's app id),
  `chat_audience_type` and `chat_audience` (default "project-number" and
  demo.seed.CHAT_PROJECT_NUMBER).
- Teams: the service validates channel tokens against the Bot Framework emulator of the stack
  (`openid_metadata_url` = urls["botframework_openid"], `token_issuer` = the channel's issuer,
  `login_url` = urls["botframework"], app id emulators.stack.BOT_APP_ID with the stack's bot
  password), and does not restrict tenants, or allows the seed's TENANT_ID. The asker must be
  in the connector's roster (that is how the bot learns their email): `say` adds them with
  `PUT /_control/roster` when they are missing, keeping the others. The demo may also put Ada
  Admin there at start (name "Ada Admin", email demo_seed.MS_ADMIN, aadObjectId
  demo_seed.find_person(MS_ADMIN)["entra_id"]), so the first `say` does not have to.
- Google Chat: the service checks tokens in project-number mode with the audience
  CHAT_PROJECT_NUMBER ("123456789012") against the stand-in's certificates (`certs_url` =
  urls["chat"] + "service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com").
- Admins: demo_seed.ADMINS (admin@contoso.com, who `say` speaks as in Teams by default, and
  admin@example.com, in Google Chat).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import html
import json
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from demo import seed as demo_seed

DEMO_FILE = "demo.json"
TEAMS_PATH = "/api/messages"
GCHAT_PATH = "/api/google-chat"
BOT_NAME = "dirsync"
TEAM_NAME = "Contoso IT"
CHANNEL_NAME = "General"  # a team's General channel has the team's id
TEAM_ID = f"19:{uuid.uuid5(uuid.NAMESPACE_URL, 'dirsync-demo:team').hex}@thread.tacv2"
SPACE = {"name": "spaces/AAAAsyncAdmins", "displayName": "Sync admins", "spaceType": "SPACE"}
POLL_SECONDS = 0.05
# A click, as the platforms send it (bots/teams/cards.py and bots/gchat/settings.py name the
# same): Teams' Universal Actions invoke, Google Chat's classic function name.
CARD_ACTION = "adaptiveCard/action"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
VERB = "dirsync"
CLICK_FUNCTION = "dirsync.click"
STARTED = "Started"  # the title of a click's answer whose outcome follows as a message


class SayError(Exception):
    """Why no reply came; the message is for the person at the terminal."""


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    entra_id: str
    google_id: str


def person_for(email: str) -> Person:
    """A person of the demo's seed with their real ids; anyone else gets stable made-up ids."""
    found = demo_seed.find_person(email) or {}
    email = email.strip().lower()
    made_up = uuid.uuid5(uuid.NAMESPACE_URL, f"dirsync-say:{email}")
    return Person(
        name=found.get("name") or email.split("@")[0].replace(".", " ").title(),
        email=email,
        entra_id=found.get("entra_id") or str(made_up),
        google_id=found.get("google_id") or str(10**20 + made_up.int % 10**19),
    )


def load_demo(state: Path) -> dict[str, Any]:
    path = state / DEMO_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SayError(f"no demo is running from {state}; start one with `./run demo`") from None
    except (OSError, ValueError) as error:
        raise SayError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("bot"), str):
        raise SayError(f"{path} is not a demo's URL list (no `bot`); restart the demo")
    return data


def _url(demo: dict[str, Any], key: str) -> str:
    value = demo.get(key)
    if not isinstance(value, str) or not value:
        raise SayError(f"the demo's {DEMO_FILE} has no `{key}` URL; restart the demo")
    return value.rstrip("/")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---- Teams -----------------------------------------------------------------------------------
def token_audience(token: str) -> str:
    """The `aud` of a JWT, unverified: the channel signs tokens for the bot's app id."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims["aud"])
    except (IndexError, KeyError, TypeError, ValueError):
        raise SayError("the Bot Framework emulator gave a token without an audience") from None


def roster_member(person: Person) -> dict[str, str]:
    """The person as the connector's roster lists them (ids as the channel emulator makes)."""
    member_id = "29:1" + uuid.uuid5(uuid.NAMESPACE_URL, person.entra_id).hex
    return {
        "id": member_id,
        "name": person.name,
        "email": person.email,
        "aadObjectId": person.entra_id,
    }


def teams_activity(
    text: str,
    *,
    sender: dict[str, str],
    bot_app_id: str,
    service_url: str,
    tenant_id: str,
) -> dict[str, Any]:
    """A new post in the team's General channel that @mentions the bot, as Teams sends it: the
    conversation is the post's own thread (`<channel>;messageid=<post id>`)."""
    activity_id = str(time.time_ns() // 1000)
    bot = {"id": f"28:{bot_app_id}", "name": BOT_NAME}
    tag = f"<at>{BOT_NAME}</at>"
    return {
        "type": "message",
        "id": activity_id,
        "timestamp": _now(),
        "localTimestamp": _now(),
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": sender["id"], "name": sender["name"], "aadObjectId": sender["aadObjectId"]},
        "conversation": {
            "id": f"{TEAM_ID};messageid={activity_id}",
            "conversationType": "channel",
            "isGroup": True,
            "tenantId": tenant_id,
            "name": CHANNEL_NAME,
        },
        "recipient": bot,
        "text": f"{tag} {text}",
        "textFormat": "plain",
        "locale": "en-US",
        "entities": [
            {"type": "mention", "text": tag, "mentioned": bot},
            {"type": "clientInfo", "locale": "en-US", "platform": "Web"},
        ],
        "channelData": {
            "tenant": {"id": tenant_id},
            "team": {"id": TEAM_ID, "name": TEAM_NAME},
            "channel": {"id": TEAM_ID, "name": CHANNEL_NAME},
        },
    }


def teams_click(
    data: dict[str, str],
    *,
    sender: dict[str, str],
    bot_app_id: str,
    service_url: str,
    tenant_id: str,
) -> dict[str, Any]:
    """A click on a button of a card the bot posted in the team's General channel: the
    `adaptiveCard/action` invoke Teams sends, `value.action` a copy of the card's
    `Action.Execute` (its verb and data), `replyToId` the message carrying the card
    (https://learn.microsoft.com/adaptive-cards/authoring-cards/universal-action-model,
    request format)."""
    activity = teams_activity(
        "", sender=sender, bot_app_id=bot_app_id, service_url=service_url, tenant_id=tenant_id
    )
    card_message = activity["id"]
    activity["id"] = str(int(card_message) + 1)
    for field in ("text", "textFormat"):
        del activity[field]
    activity.update(
        {
            "type": "invoke",
            "name": CARD_ACTION,
            "replyToId": card_message,
            "value": {
                "action": {"type": "Action.Execute", "verb": VERB, "data": data},
                "trigger": "manual",
            },
            "entities": [{"type": "clientInfo", "locale": "en-US", "platform": "Web"}],
        }
    )
    activity["channelData"]["source"] = {"name": "message"}
    return activity


async def _json(response: aiohttp.ClientResponse, what: str) -> Any:
    if response.status >= 300:
        body = (await response.text())[:200]
        raise SayError(f"{what} answered {response.status}: {body}")
    try:
        return await response.json(content_type=None)
    except ValueError:
        raise SayError(f"{what} answered with something that is not JSON") from None


async def _ensure_in_roster(
    http: aiohttp.ClientSession, botframework: str, person: Person
) -> dict[str, str]:
    """The roster entry for the person, added (keeping everyone else) when missing."""
    async with http.get(f"{botframework}/_control/roster") as response:
        roster = await _json(response, "the Bot Framework emulator's roster")
    for member in roster:
        if str(member.get("email", "")).lower() == person.email:
            return {k: str(member[k]) for k in ("id", "name", "aadObjectId")}
    added = roster_member(person)
    async with http.put(f"{botframework}/_control/roster", json=[*roster, added]) as response:
        await _json(response, "the Bot Framework emulator's roster")
    return added


@dataclass
class Progress:
    """How far a `say` got, for the message when time runs out."""

    sent: bool = False  # the bot accepted the message


async def say_teams(
    http: aiohttp.ClientSession,
    demo: dict[str, Any],
    text: str,
    person: Person,
    progress: Progress,
) -> tuple[str, list[str]]:
    botframework, bot = _url(demo, "botframework"), _url(demo, "bot")
    headers, options = await _teams_sender(http, demo, person)
    activity = teams_activity(text, **options)
    async with http.post(f"{bot}{TEAMS_PATH}", json=activity, headers=headers) as response:
        await _accepted(response, "the Teams message")
    progress.sent = True
    reply = await _wait_for_reply(http, botframework, activity)
    return _teams_text(reply), _teams_card(reply.get("attachments") or [])


async def _teams_sender(
    http: aiohttp.ClientSession, demo: dict[str, Any], person: Person
) -> tuple[dict[str, str], dict[str, Any]]:
    """The channel's Authorization header, and who sends from where (teams_activity's keyword
    arguments), the person added to the connector's roster when missing."""
    botframework = _url(demo, "botframework")
    sender = await _ensure_in_roster(http, botframework, person)
    async with http.post(f"{botframework}/_control/token", json={}) as response:
        signed = await _json(response, "the Bot Framework emulator")
    token = str(signed.get("token", ""))
    options = {
        "sender": sender,
        "bot_app_id": str(demo.get("bot_app_id") or token_audience(token)),
        "service_url": str(signed.get("serviceUrl") or f"{botframework}/"),
        "tenant_id": str(demo.get("tenant_id") or demo_seed.TENANT_ID),
    }
    return {"Authorization": f"Bearer {token}"}, options


async def click_teams(
    http: aiohttp.ClientSession,
    demo: dict[str, Any],
    data: dict[str, str],
    person: Person,
    progress: Progress,
) -> tuple[str, list[str]]:
    """Click a button whose data is `data`; the invoke's answer: the updated card, or the
    message Teams shows the clicker. A run's "Started" card is followed by its outcome."""
    botframework, bot = _url(demo, "botframework"), _url(demo, "bot")
    headers, options = await _teams_sender(http, demo, person)
    activity = teams_click(data, **options)
    async with http.post(f"{bot}{TEAMS_PATH}", json=activity, headers=headers) as response:
        await _accepted(response, "the Teams click")
        answer = await _json(response, "the bot")
    progress.sent = True
    text, card = invoke_answer(answer)
    if card and card[0].startswith(STARTED):
        outcome = await _wait_for_reply(http, botframework, activity)
        card = [*card, "", _teams_text(outcome), *_teams_card(outcome.get("attachments") or [])]
    return text, card


def invoke_answer(answer: Any) -> tuple[str, list[str]]:
    """The text and card lines of an `adaptiveCard/action` invoke response: a card that
    replaces the clicked one, a message, or an error (a SayError with its message)."""
    if not isinstance(answer, dict):
        raise SayError("the bot answered the click without an invoke response")
    value = answer.get("value")
    if answer.get("type") == CARD_TYPE and isinstance(value, dict):
        return "", _teams_card([{"contentType": CARD_TYPE, "content": value}])
    if answer.get("type") == MESSAGE_TYPE:
        return str(value or "").strip(), []
    reason = value.get("message") if isinstance(value, dict) else value
    raise SayError(f"the bot refused the click ({answer.get('statusCode')}): {reason}")


def _teams_card(attachments: list[dict[str, Any]]) -> list[str]:
    return adaptive_card_lines(attachments) + button_lines(teams_buttons(attachments))


async def _accepted(response: aiohttp.ClientResponse, what: str) -> None:
    """Raises SayError with the bot's reason when it did not take `what`."""
    if response.status == 401:
        raise SayError(f"the bot refused {what}: 401 {await _reason(response)}")
    if response.status >= 300:
        raise SayError(f"the bot answered {response.status}: {await _reason(response)}")


async def _reason(response: aiohttp.ClientResponse) -> str:
    body = (await response.text()).strip()
    try:
        found = json.loads(body)
        if isinstance(found, dict) and isinstance(found.get("error"), str):
            body = found["error"]
    except ValueError:
        pass
    return body[:200] or response.reason or ""


async def _wait_for_reply(
    http: aiohttp.ClientSession, botframework: str, activity: dict[str, Any]
) -> dict[str, Any]:
    """The bot's reply to `activity`, from what the connector recorded (run_say's timeout
    ends the wait)."""
    conversation = activity["conversation"]["id"]
    while True:
        async with http.get(f"{botframework}/_control/posts") as response:
            posts = await _json(response, "the Bot Framework emulator")
        for post in posts:
            if post.get("replyToId") == activity["id"] and post.get("conversationId") == (
                conversation
            ):
                return dict(post.get("activity") or {})
        await asyncio.sleep(POLL_SECONDS)


def _teams_text(reply: dict[str, Any]) -> str:
    """Teams text is markdown, where the bot doubles newlines to break lines."""
    return re.sub(r"\n\n", "\n", str(reply.get("text") or "")).strip()


def adaptive_card_lines(attachments: Iterable[dict[str, Any]]) -> list[str]:
    """Adaptive Cards as compact text: text blocks, facts as `title: value`, tables with
    aligned columns."""
    lines: list[str] = []
    for attachment in attachments:
        if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
            _card_elements(attachment.get("content", {}).get("body") or [], lines)
    return lines


def teams_buttons(attachments: Iterable[dict[str, Any]]) -> list[tuple[str, dict[str, str]]]:
    """The buttons of Adaptive Cards: (title, data) of each Action.Execute of ours."""
    found: list[tuple[str, dict[str, str]]] = []
    for attachment in attachments:
        if attachment.get("contentType") != CARD_TYPE:
            continue
        for action in attachment.get("content", {}).get("actions") or []:
            data = action.get("data")
            if action.get("type") == "Action.Execute" and isinstance(data, dict):
                found.append((str(action.get("title", "")), data))
    return found


def button_lines(buttons: list[tuple[str, dict[str, str]]]) -> list[str]:
    """A card's buttons, each with what `dirsync say --click` takes to press it."""
    if not buttons:
        return []
    lines = ["Buttons (dirsync say --click ...):"]
    for label, data in buttons:
        ref = f" --ref {data['ref']}" if data.get("ref") else ""
        lines.append(f"  {label}: --click {json.dumps(str(data.get('command', '')))}{ref}")
    return lines


def _card_elements(elements: Iterable[dict[str, Any]], lines: list[str]) -> None:
    for element in elements:
        kind = element.get("type")
        if kind == "TextBlock":
            lines.append(str(element.get("text", "")))
        elif kind == "FactSet":
            lines.extend(f"{f.get('title', '')}: {f.get('value', '')}" for f in element["facts"])
        elif kind == "Table":
            rows = [[_cell_text(c) for c in row.get("cells", [])] for row in element["rows"]]
            lines.extend(aligned(rows))
        elif kind == "ColumnSet":
            for column in element.get("columns") or []:
                _card_elements(column.get("items") or [], lines)
        elif kind == "Container":
            _card_elements(element.get("items") or [], lines)


def _cell_text(cell: dict[str, Any]) -> str:
    found: list[str] = []
    _card_elements(cell.get("items") or [], found)
    return " ".join(found)


def aligned(rows: list[list[str]]) -> list[str]:
    width = max((len(r) for r in rows), default=0)
    widths = [max((len(r[i]) for r in rows if i < len(r)), default=0) for i in range(width)]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in rows]


# ---- Google Chat -----------------------------------------------------------------------------
def _chat_user(person: Person) -> dict[str, str]:
    return {
        "name": f"users/{person.google_id}",
        "displayName": person.name,
        "email": person.email,
        "type": "HUMAN",
    }


def _chat_space(space: dict[str, str]) -> dict[str, Any]:
    return {**space, "type": "ROOM", "singleUserBotDm": False}


CHAT_APP = {"name": "users/app", "displayName": BOT_NAME, "type": "BOT"}


def chat_event(text: str, *, person: Person, space: dict[str, str] = SPACE) -> dict[str, Any]:
    """A classic MESSAGE event: the person @mentions the app in a space."""
    user = _chat_user(person)
    space_json = _chat_space(space)
    app = CHAT_APP
    at = f"@{BOT_NAME}"
    message_id = uuid.uuid4().hex[:16]
    message = {
        "name": f"{space['name']}/messages/{message_id}.{message_id}",
        "sender": user,
        "createTime": _now(),
        "text": f"{at} {text}",
        "argumentText": f" {text}",
        "thread": {"name": f"{space['name']}/threads/{message_id}"},
        "space": space_json,
        "annotations": [
            {
                "type": "USER_MENTION",
                "startIndex": 0,
                "length": len(at),
                "userMention": {"type": "MENTION", "user": app},
            }
        ],
    }
    return {
        "type": "MESSAGE",
        "eventTime": _now(),
        "space": space_json,
        "user": user,
        "message": message,
        "common": {"hostApp": "CHAT", "userLocale": "en"},
    }


def chat_click_event(
    data: dict[str, str], *, person: Person, space: dict[str, str] = SPACE
) -> dict[str, Any]:
    """A classic CARD_CLICKED event: the person clicked a button on a card the app posted in
    the space. Chat sends the button's function and parameters twice, as
    `action.actionMethodName` / `action.parameters` (key/value pairs) and as
    `common.invokedFunction` / `common.parameters` (a map)
    (https://developers.google.com/workspace/chat/receive-respond-interactions)."""
    space_json = _chat_space(space)
    message_id = uuid.uuid4().hex[:16]
    card = {  # the app's card, as Chat holds it: the message an UPDATE_MESSAGE answer replaces
        "name": f"{space['name']}/messages/{message_id}.{message_id}",
        "sender": CHAT_APP,
        "createTime": _now(),
        "thread": {"name": f"{space['name']}/threads/{message_id}"},
        "space": space_json,
    }
    return {
        "type": "CARD_CLICKED",
        "eventTime": _now(),
        "space": space_json,
        "user": _chat_user(person),
        "message": card,
        "action": {
            "actionMethodName": CLICK_FUNCTION,
            "parameters": [{"key": key, "value": value} for key, value in data.items()],
        },
        "common": {
            "hostApp": "CHAT",
            "userLocale": "en",
            "invokedFunction": CLICK_FUNCTION,
            "parameters": dict(data),
        },
        "isDialogEvent": False,
    }


async def say_gchat(
    http: aiohttp.ClientSession,
    demo: dict[str, Any],
    text: str,
    person: Person,
    *,
    click: dict[str, str] | None = None,
) -> tuple[str, list[str]]:
    """The answer to a message (or, with `click`, to a click on a button with that data: the
    updated card, or the private message to the clicker)."""
    chat, bot = _url(demo, "chat"), _url(demo, "bot")
    wanted = {
        "mode": str(demo.get("chat_audience_type") or "project-number"),
        "audience": str(demo.get("chat_audience") or demo_seed.CHAT_PROJECT_NUMBER),
    }
    async with http.post(f"{chat}/_control/tokens", json=wanted) as response:
        token = str((await _json(response, "the Google Chat stand-in")).get("token", ""))
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "Google-Dynamite"}
    if click is None:
        event = chat_event(text, person=person)
    else:
        event = chat_click_event(click, person=person)
    async with http.post(f"{bot}{GCHAT_PATH}", json=event, headers=headers) as response:
        await _accepted(response, "the Google Chat event")
        message = await _json(response, "the bot")
    if not isinstance(message, dict) or not (message.get("text") or message.get("cardsV2")):
        raise SayError("the bot answered without a message")
    cards = message.get("cardsV2") or []
    return str(message.get("text") or "").strip(), chat_card_lines(cards) + button_lines(
        chat_buttons(cards)
    )


def _plain(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup.replace("<br>", "\n")))


def chat_card_lines(cards: Iterable[dict[str, Any]]) -> list[str]:
    """cardsV2 as compact text: header, section headers, paragraphs and `label: text` rows."""
    lines: list[str] = []
    for entry in cards:
        card = entry.get("card") or {}
        header = card.get("header") or {}
        if header.get("title"):
            lines.append(str(header["title"]))
        for section in card.get("sections") or []:
            if section.get("header"):
                lines.append(_plain(str(section["header"])))
            for widget in section.get("widgets") or []:
                if "textParagraph" in widget:
                    lines.extend(_plain(str(widget["textParagraph"].get("text", ""))).split("\n"))
                elif "decoratedText" in widget:
                    row = widget["decoratedText"]
                    label = _plain(str(row.get("topLabel", "")))
                    value = _plain(str(row.get("text", "")))
                    lines.append(f"{label}: {value}" if label else value)
    return lines


def chat_buttons(cards: Iterable[dict[str, Any]]) -> list[tuple[str, dict[str, str]]]:
    """The buttons of cardsV2: (text, parameters) of each button's onClick.action."""
    found: list[tuple[str, dict[str, str]]] = []
    for entry in cards:
        for section in (entry.get("card") or {}).get("sections") or []:
            for widget in section.get("widgets") or []:
                for button in (widget.get("buttonList") or {}).get("buttons") or []:
                    action = (button.get("onClick") or {}).get("action") or {}
                    parameters = {
                        str(p.get("key")): str(p.get("value"))
                        for p in action.get("parameters") or []
                    }
                    if parameters.get("command"):
                        found.append((str(button.get("text", "")), parameters))
    return found


# ---- the command -----------------------------------------------------------------------------
def _words(text: str) -> set[str]:
    return set(re.findall(r"[^\s:·|,;`]+", text.lower()))


def _render(text: str, card: list[str], *, by_words: bool = False) -> str:
    """The text, then the card's lines the text does not already say: lines not in the text,
    or with `by_words` (Google Chat, whose text holds the whole reply and whose card shows the
    same tables as rows), lines with a word the text does not have."""
    said = {line.strip() for line in text.splitlines()}
    words = _words(text)
    extra = [
        line
        for line in card
        if line.strip() and line.strip() not in said and not (by_words and _words(line) <= words)
    ]
    parts = [text] if text else []
    if extra:
        parts.append("\n".join(extra))
    return "\n\n".join(parts)


async def run_say(
    text: str,
    via: str,
    state: Path,
    out: TextIO,
    err: TextIO,
    *,
    as_email: str | None = None,
    timeout: float = 30,  # noqa: ASYNC109 (the CLI's --timeout: the whole exchange's budget)
    click: bool = False,
    ref: str = "",
) -> int:
    """Send `text` to the demo's bot as `as_email` (default: the seed's admin on that platform)
    and print the reply; with `click`, click a button whose command is `text` (and whose ref
    is `ref`) and print the answer. 0 when a reply came; 1 with the reason on `err`
    otherwise."""
    if via not in ("teams", "gchat"):
        err.write(f"dirsync say: --via is teams or gchat, not {via!r}\n")
        return 1
    default = demo_seed.MS_ADMIN if via == "teams" else demo_seed.GOOGLE_ADMIN
    person = person_for(as_email or default)
    progress = Progress()
    try:
        demo = load_demo(state)
        limits = aiohttp.ClientTimeout(total=timeout)
        async with asyncio.timeout(timeout), aiohttp.ClientSession(timeout=limits) as http:
            data = {"command": text, **({"ref": ref} if ref else {})}
            if via == "teams" and click:
                reply, card = await click_teams(http, demo, data, person, progress)
            elif via == "teams":
                reply, card = await say_teams(http, demo, text, person, progress)
            else:
                reply, card = await say_gchat(
                    http, demo, text, person, click=data if click else None
                )
    except SayError as error:
        err.write(f"dirsync say: {error}\n")
        return 1
    except TimeoutError:
        if progress.sent:
            err.write(
                f"dirsync say: the bot took the message but sent no reply within {timeout:g} s\n"
            )
        else:
            err.write(f"dirsync say: the demo did not answer within {timeout:g} s\n")
        return 1
    except aiohttp.ClientConnectionError as error:
        err.write(f"dirsync say: cannot reach the demo ({error}); is it still running?\n")
        return 1
    out.write(_render(reply, card, by_words=via == "gchat") + "\n")
    return 0


def add_say_arguments(parser: argparse.ArgumentParser) -> None:
    """The `say` subcommand's arguments; then `await run_say_args(args, out, err)`."""
    parser.add_argument("text", nargs="*", help='the command, e.g. "sync status"')
    parser.add_argument(
        "--click",
        metavar="COMMAND",
        help="click the card button that stands for COMMAND instead of typing, e.g. "
        '"pause microsoft primaries" (say lists the buttons of each card it prints)',
    )
    parser.add_argument(
        "--ref", default="", help="with --click: the button's ref, when say listed one"
    )
    parser.add_argument(
        "--via", choices=["teams", "gchat"], required=True, help="Teams or Google Chat"
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=Path("state/demo"),
        help="the running demo's state folder (default state/demo)",
    )
    parser.add_argument(
        "--as",
        dest="as_email",
        metavar="EMAIL",
        help=f"who speaks (default: {demo_seed.MS_ADMIN} in Teams, "
        f"{demo_seed.GOOGLE_ADMIN} in Google Chat)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the reply (default 30)"
    )


async def run_say_args(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """2 for a usage mistake: no command, or both typed text and --click."""
    if bool(args.text) == (args.click is not None):
        err.write('dirsync say: give the command to send, or --click "<command>", not both\n')
        return 2
    if args.ref and args.click is None:
        err.write("dirsync say: --ref goes with --click\n")
        return 2
    return await run_say(
        args.click if args.click is not None else " ".join(args.text),
        args.via,
        args.state,
        out,
        err,
        as_email=args.as_email,
        timeout=args.timeout,
        click=args.click is not None,
        ref=args.ref,
    )
