"""The Teams app package (`dirsync manifest`) and the records in manifests/.

The rendered manifest is checked against Microsoft's own schema for its manifestVersion, from
npm @microsoft/app-manifest, entirely offline: no $ref or format check may reach the internet.
"""

from __future__ import annotations

import importlib
import json
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bots.cli import main
from bots.teams import manifest
from core.commands.catalog import BY_NAME, COMMANDS
from tests.conftest import npm_package

BOT_ID = "1b2c3d4e-0000-4000-8000-123456789abc"
MANIFEST_NPM = "@microsoft/app-manifest@1.1.2"
SCHEMA_URL = "https://developer.microsoft.com/json-schemas/teams/v{v}/MicrosoftTeams.schema.json"
TEAMS = manifest.MANIFESTS / "teams"
GCHAT_DOC = manifest.MANIFESTS / "google-chat" / "chat-app-config.md"


# ---- the official schema, offline ----------------------------------------------------------


@pytest.fixture(scope="module")
def schema_folder() -> Path:
    folder = Path(npm_package(MANIFEST_NPM)) / "build" / "json-schemas" / "teams"
    assert folder.is_dir(), f"{MANIFEST_NPM} no longer ships {folder}"
    return folder


def validator_for(document: dict[str, Any], schema_folder: Path) -> Any:
    """A draft-4 validator for the schema `document` names in `$schema`.

    - Draft 4 has no `const`; the Teams schemas use it (manifestVersion must be "1.30"), so the
      draft-6 rule is added rather than silently ignored.
    - Every schema file of that version is registered under its official URL; any other
      reference raises instead of being fetched.
    - `format: uri` is checked offline (the default checker needs a package we do not have)."""
    from jsonschema import Draft4Validator, Draft6Validator, FormatChecker, validators
    from referencing import Registry, Resource
    from referencing.exceptions import NoSuchResource
    from referencing.jsonschema import DRAFT4

    version = document["manifestVersion"]
    assert document["$schema"] == SCHEMA_URL.format(v=version)
    folder = schema_folder / f"v{version}"

    def no_fetching(uri: str) -> Resource[Any]:
        raise NoSuchResource(ref=uri)

    registry: Registry[Any] = Registry(retrieve=no_fetching)
    for path in folder.glob("*.json"):
        url = SCHEMA_URL.format(v=version).replace("MicrosoftTeams.schema.json", path.name)
        contents = json.loads(path.read_text(encoding="utf-8"))
        registry = registry.with_resource(url, DRAFT4.create_resource(contents))
    schema = json.loads((folder / "MicrosoftTeams.schema.json").read_text(encoding="utf-8"))
    schema.setdefault("id", SCHEMA_URL.format(v=version))  # so relative $refs resolve locally

    checker = FormatChecker(formats=())

    @checker.checks("uri")
    def is_uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and (parts.netloc or parts.path))

    validator_class = validators.extend(
        Draft4Validator, {"const": Draft6Validator.VALIDATORS["const"]}
    )
    return validator_class(schema, registry=registry, format_checker=checker)


def errors(document: dict[str, Any], schema_folder: Path) -> list[str]:
    validator = validator_for(document, schema_folder)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_rendered_manifest_validates_against_the_official_schema(schema_folder: Path) -> None:
    for domain in ("bot.contoso.com", None):
        rendered = manifest.render(BOT_ID, version="1.2.3", valid_domain=domain)
        assert rendered["manifestVersion"] == "1.30"
        assert errors(rendered, schema_folder) == []


def test_the_schema_check_is_not_vacuous(schema_folder: Path) -> None:
    """Each of these breaks a rule of the official v1.30 schema, and is caught."""
    good = manifest.render(BOT_ID, valid_domain="bot.contoso.com")
    validator = validator_for(good, schema_folder)
    too_many = json.loads(json.dumps(good))
    commands = too_many["bots"][0]["commandLists"][0]["commands"]
    commands.append({"title": "thirteenth", "description": "over the limit"})
    long_title = json.loads(json.dumps(good))
    long_title["bots"][0]["commandLists"][1]["commands"][0]["title"] = "x" * 129
    broken = {
        "13 commands": too_many,
        "title over 128": long_title,
        "manifestVersion 1.29 (const)": {**good, "manifestVersion": "1.29"},
        "accentColor": {**good, "accentColor": "blue"},
        "no icons": {k: v for k, v in good.items() if k != "icons"},
        "bot id": {**good, "bots": [{**good["bots"][0], "botId": "my-bot"}]},
    }
    for what, document in broken.items():
        assert list(validator.iter_errors(document)), f"not caught: {what}"


# ---- the manifest's content ------------------------------------------------------------------


def test_fields_and_placeholders() -> None:
    rendered = manifest.render(BOT_ID.upper(), version="2.0.1", valid_domain="Bot.Contoso.com")
    text = json.dumps(rendered)
    assert "${" not in text
    bot = rendered["bots"][0]
    assert bot["botId"] == BOT_ID
    assert sorted(bot["scopes"]) == ["groupChat", "personal", "team"]
    assert rendered["version"] == "2.0.1"
    assert rendered["validDomains"] == ["bot.contoso.com"]
    assert rendered["developer"]["websiteUrl"] == "https://bot.contoso.com/"
    assert rendered["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert len(rendered["name"]["short"]) <= 30 and len(rendered["description"]["short"]) <= 80
    # The app id is stable for one bot and differs between bots.
    assert rendered["id"] == manifest.render(BOT_ID)["id"]
    assert rendered["id"] != manifest.render(BOT_ID.replace("1b2c", "9b2c"))["id"]
    without = manifest.render(BOT_ID)
    assert "validDomains" not in without
    assert without["developer"]["privacyUrl"].startswith("https://")


def test_command_lists_come_from_the_catalog_within_the_limits() -> None:
    lists = manifest.render(BOT_ID)["bots"][0]["commandLists"]
    assert [entry["scopes"] for entry in lists] == [["personal"], ["team", "groupChat"]]
    for entry in lists:
        titles = [command["title"] for command in entry["commands"]]
        assert 0 < len(titles) <= manifest.COMMANDS_PER_LIST == 12
        assert len(set(titles)) == len(titles)
        for command in entry["commands"]:
            assert command["title"] in BY_NAME, f"{command['title']!r} is not a catalog command"
            assert len(command["title"]) <= manifest.TITLE_MAX
            assert 0 < len(command["description"]) <= manifest.DESCRIPTION_MAX
        assert "help" in titles and "sync status" in titles
    personal, shared = ([c["title"] for c in e["commands"]] for e in lists)
    assert "set audit channel here" in shared and "set audit channel here" not in personal
    # With more than 12 commands in the catalog, the lists are full: the first 12 by RANKING.
    assert len(COMMANDS) > 12 and len(personal) == len(shared) == 12
    assert shared == list(manifest.RANKING[:12])


def test_descriptions_show_usage_and_access() -> None:
    by_title = {
        c["title"]: c["description"] for e in manifest.command_lists() for c in e["commands"]
    }
    assert by_title["pause"].startswith("pause <microsoft|google> primaries: ")
    assert by_title["pause"].endswith("(admins)")
    assert not by_title["sync status"].endswith("(admins)")


def test_ranking_names_only_catalog_commands_and_covers_the_catalog() -> None:
    assert set(manifest.RANKING) <= set(BY_NAME)
    assert len(set(manifest.RANKING)) == len(manifest.RANKING)
    # A new catalog command must be ranked on purpose (it is appended last otherwise).
    assert set(BY_NAME) == set(manifest.RANKING)


def test_a_renamed_command_in_the_ranking_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifest, "RANKING", (*manifest.RANKING, "sync everything"))
    with pytest.raises(manifest.ManifestError, match="sync everything"):
        manifest.render(BOT_ID)


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["", "not-a-guid", "1b2c3d4e00004000800012345678", "{1b2c3d4e-0000-4000-8000-123456789abc}"],
)
def test_a_bad_bot_id_is_refused_clearly(bad: str, tmp_path: Path) -> None:
    with pytest.raises(manifest.ManifestError, match=r"is not a GUID.*Microsoft App ID"):
        manifest.build_package(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_version_and_domain_are_refused() -> None:
    with pytest.raises(manifest.ManifestError, match=r"MAJOR\.MINOR\.PATCH"):
        manifest.render(BOT_ID, version="1.2")
    with pytest.raises(manifest.ManifestError, match="without scheme or path"):
        manifest.render(BOT_ID, valid_domain="https://bot.contoso.com/api")


# ---- the package -----------------------------------------------------------------------------


def test_package_holds_exactly_the_manifest_and_both_icons(tmp_path: Path) -> None:
    package = manifest.build_package(BOT_ID, tmp_path, version="1.0.0", valid_domain="x.test")
    assert package == tmp_path / "dirsync-teams-1.0.0.zip"
    written = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    with zipfile.ZipFile(package) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        assert archive.testzip() is None
        assert json.loads(archive.read("manifest.json")) == written
        for icon in ("color.png", "outline.png"):
            assert archive.read(icon) == (TEAMS / icon).read_bytes()
    assert written["icons"]["color"] == "color.png"
    # Same inputs, same bytes.
    again = manifest.build_package(
        BOT_ID, tmp_path / "again", version="1.0.0", valid_domain="x.test"
    )
    assert again.read_bytes() == package.read_bytes()


def test_cli_writes_the_package_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "teams"
    argv = ["manifest", "--bot-id", BOT_ID, "--out", str(out), "--version", "3.1.4"]
    assert main([*argv, "--valid-domain", "bot.contoso.com"]) == 0
    printed = capsys.readouterr().out
    assert str(out / "manifest.json") in printed
    assert str(out / "dirsync-teams-3.1.4.zip") in printed
    assert json.loads((out / "manifest.json").read_text())["version"] == "3.1.4"
    assert (out / "dirsync-teams-3.1.4.zip").is_file()


def test_cli_refuses_a_bad_bot_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--bot-id", "my-bot", "--out", str(tmp_path / "o")]) == 1
    assert "'my-bot' is not a GUID" in capsys.readouterr().err


# ---- the icons, read from the PNG bytes --------------------------------------------------------


def read_png(data: bytes) -> tuple[int, int, int, list[list[tuple[int, ...]]]]:
    """(width, height, colour type, rows of pixels) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 4 if colour == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[list[tuple[int, ...]]] = []
    previous = bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, current = line[0], bytearray(line[1:])
        for i in range(stride):
            left = current[i - channels] if i >= channels else 0
            up, up_left = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                current[i] = (current[i] + left) & 0xFF
            elif kind == 2:
                current[i] = (current[i] + up) & 0xFF
            elif kind == 3:
                current[i] = (current[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                current[i] = (current[i] + pred) & 0xFF
        rows.append([tuple(current[x : x + channels]) for x in range(0, stride, channels)])
        previous = current
    return width, height, colour, rows


def test_color_icon_is_192_square_and_opaque() -> None:
    width, height, colour, rows = read_png((TEAMS / "color.png").read_bytes())
    assert (width, height) == (192, 192)
    pixels = [px for row in rows for px in row]
    if colour == 6:
        assert all(px[3] == 255 for px in pixels), "the colour icon must not be transparent"
    assert len({px[:3] for px in pixels}) > 2, "a full-colour icon, not a blank square"


def test_outline_icon_is_32_square_white_on_transparent() -> None:
    width, height, colour, rows = read_png((TEAMS / "outline.png").read_bytes())
    assert (width, height) == (32, 32)
    assert colour == 6, "the outline icon needs an alpha channel"
    corners = [rows[0][0], rows[0][-1], rows[-1][0], rows[-1][-1]]
    assert all(px[3] == 0 for px in corners), "the background must be transparent"
    visible = [px for row in rows for px in row if px[3] > 0]
    assert visible, "the outline icon draws nothing"
    assert all(px[:3] == (255, 255, 255) for px in visible), "only white may show"
    transparent = sum(1 for row in rows for px in row if px[3] == 0)
    assert transparent > 32 * 32 // 2


def test_icon_script_reproduces_the_committed_icons() -> None:
    spec = importlib.util.spec_from_file_location("make_icons", TEAMS / "make_icons.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.color_icon() == (TEAMS / "color.png").read_bytes()
    assert script.outline_icon() == (TEAMS / "outline.png").read_bytes()


# ---- Google Chat: the console record matches the code ------------------------------------------


def doc_slash_commands() -> dict[int, tuple[str, str, str]]:
    """{id: (name, runs, description)} from the Commands table of chat-app-config.md."""
    text = GCHAT_DOC.read_text(encoding="utf-8")
    section = text.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows: dict[int, tuple[str, str, str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"\d+", cells[0]):
            command_id = int(cells[0])
            assert command_id not in rows, f"command id {command_id} listed twice"
            assert 1 <= command_id <= 1000
            rows[command_id] = (cells[1], cells[2], cells[3])
    assert rows, f"no slash command table found in {GCHAT_DOC}"
    return rows


def test_google_chat_slash_commands_match_the_code() -> None:
    try:
        commands = importlib.import_module("bots.gchat.commands")
    except ModuleNotFoundError as missing:
        if missing.name not in ("bots.gchat", "bots.gchat.commands"):
            raise
        pytest.skip("bots/gchat/commands.py (SLASH_COMMANDS) does not exist yet")
    in_code = {
        c.id: (c.name, c.prefix or "(the typed command)", c.description)
        for c in commands.SLASH_COMMANDS
    }
    assert doc_slash_commands() == in_code
    for command_id, (name, runs, _) in in_code.items():
        assert name.startswith("/"), command_id
        assert runs == "(the typed command)" or runs in BY_NAME, f"{runs!r} is not a command"


def test_records_name_what_the_code_asks_for() -> None:
    """The permission records list every scope and Graph permission the clients need."""
    from directories.google import SCOPES

    dwd = (manifest.MANIFESTS / "google" / "domain-wide-delegation.md").read_text()
    for scope in SCOPES:
        assert f"`{scope}`" in dwd and scope in dwd.split("```")[1], scope
    assert "auth/chat.bot" in dwd
    entra = (manifest.MANIFESTS / "entra" / "app-registration.md").read_text()
    for permission in ("GroupMember.Read.All", "User.Invite.All", "User.ReadWrite.All"):
        assert f"| `{permission}` |" in entra, permission
