"""`dirsync manifest`: the Microsoft Teams app package, rendered from manifests/teams/.

The template (`manifests/teams/manifest.template.json`) holds everything fixed; this module fills
its `${...}` placeholders and builds the bot's command lists from core's command catalog at
render time, so the lists Teams suggests can never drift from the commands the bot understands.

Where the template comes from: the repository's `manifests/` folder, found next to the `bots`
package (the project is installed with `pip install -e .`, so that is the source checkout).
A wheel would not carry it; pass `manifests_dir=` (or run from a checkout) in that case.
"""

from __future__ import annotations

import json
import re
import uuid
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from core.commands.catalog import BY_NAME, COMMANDS, CommandSpec
from core.errors import UsageError

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
TEMPLATE = "teams/manifest.template.json"
ICONS = ("color.png", "outline.png")
PACKAGE_STEM = "dirsync-teams"

MANIFEST_VERSION = "1.30"
COMMANDS_PER_LIST = 12  # Teams' limit per command list since manifest v1.24 (10 before)
# v1.30 allows titles of 128 and descriptions of 4,000 characters; Teams clients show about 32
# and 128 (the limits of the older schemas), so we keep to those.
TITLE_MAX = 32
DESCRIPTION_MAX = 128

# Which commands Teams suggests, best first; a scope shows the first 12 that apply to it. The
# catalog has 24 commands: `help` (which lists them all) and the everyday ones come first, User
# Sync's two views among them; the setup and rare ones come last and are left out: `resume`
# (from a channel; the pause reply names it), `audit`, `import team` and the other source
# changes (done once), `groups`, `held deletions` and `discard deletions` (the held-deletions
# alert carries their buttons),
# `import` (run once, after `assign`) and `assign` (needs a group id typed anyway).
# A catalog command missing here is appended in catalog order; a name here that the catalog
# does not have is an error, so a renamed command cannot slip by.
RANKING = (
    "help",
    "sync status",
    "sync preview",
    "sync now",
    "user",
    "user sync",
    "sources",
    "resync user",
    "errors",
    "pause",
    "approve deletions",
    "set audit channel here",
    "resume",
    "audit",
    "import team",
    "remove team",
    "import google users",
    "stop importing google users",
    "groups",
    "held deletions",
    "discard deletions",
    "import",
    "groups find",
    "assign",
)
# Commands that only make sense in a channel or group chat, not in a one-to-one chat.
NOT_PERSONAL = frozenset({"set audit channel here"})
SCOPE_LISTS: tuple[tuple[str, ...], ...] = (("personal",), ("team", "groupChat"))

# Namespace for the Teams app id: uuid5(namespace, bot id) is stable for one bot registration
# (an updated package replaces the installed app) and differs between registrations (a staging
# and a production bot in one tenant do not collide).
APP_ID_NAMESPACE = uuid.UUID("4f4b4546-b60e-47e2-ad30-f48f31fec390")
FALLBACK_DEVELOPER_URL = "https://www.example.com/"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_DOMAIN = re.compile(
    r"^(\*\.)?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*"
    r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(:[0-9]{1,5})?$"
)
_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")


class ManifestError(UsageError):
    """A value the manifest cannot take; the message says which and what is expected."""


def _fit(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


def describe(spec: CommandSpec) -> str:
    """What Teams shows under a command: its usage when it takes arguments, then its help."""
    text = spec.help[0].upper() + spec.help[1:]
    if spec.usage != spec.name:
        text = f"{spec.usage}: {spec.help}"
    if spec.access == "admin":
        return _fit(text, DESCRIPTION_MAX - len(" (admins)")) + " (admins)"
    return _fit(text, DESCRIPTION_MAX)


def ranked_commands() -> list[CommandSpec]:
    unknown = [name for name in RANKING if name not in BY_NAME]
    if unknown:
        raise ManifestError(f"RANKING names commands the catalog does not have: {unknown}")
    rest = [spec for spec in COMMANDS if spec.name not in RANKING]
    return [BY_NAME[name] for name in RANKING] + rest


def command_lists() -> list[dict[str, Any]]:
    """The bot's `commandLists`: one per entry of SCOPE_LISTS, at most 12 commands each."""
    lists = []
    for scopes in SCOPE_LISTS:
        specs = [
            spec
            for spec in ranked_commands()
            if scopes != ("personal",) or spec.name not in NOT_PERSONAL
        ][:COMMANDS_PER_LIST]
        commands = [
            {"title": _fit(spec.name, TITLE_MAX), "description": describe(spec)} for spec in specs
        ]
        lists.append({"scopes": list(scopes), "commands": commands})
    return lists


def check_bot_id(bot_id: str) -> str:
    if not _GUID.match(bot_id.strip()):
        raise ManifestError(
            f"bot id {bot_id!r} is not a GUID: give the bot's Microsoft App ID (the Entra "
            "application (client) id), like 1b2c3d4e-0000-4000-8000-123456789abc"
        )
    return bot_id.strip().lower()


def _check_version(version: str) -> str:
    if not _SEMVER.match(version):
        raise ManifestError(f"version {version!r} must be MAJOR.MINOR.PATCH, like 1.4.0")
    return version


def _check_domain(domain: str) -> str:
    if not _DOMAIN.match(domain):
        raise ManifestError(
            f"valid domain {domain!r} must be a host name without scheme or path, "
            "like bot.contoso.com (a leading *. is allowed)"
        )
    return domain.lower()


def default_version() -> str:
    try:
        return metadata.version("dirsync")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def _fill(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if not isinstance(node, str):
        return node
    whole = _PLACEHOLDER.fullmatch(node)
    if whole and not isinstance(values.get(whole.group(1), ""), str):
        return values[whole.group(1)]  # a structure, such as the command lists

    def one(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ManifestError(f"the template has an unknown placeholder {match.group(0)}")
        return str(values[match.group(1)])

    return _PLACEHOLDER.sub(one, node)


def _template(manifests_dir: Path | None) -> tuple[dict[str, Any], Path]:
    folder = (manifests_dir or MANIFESTS) / "teams"
    path = folder / Path(TEMPLATE).name
    if not path.is_file():
        raise ManifestError(
            f"no Teams manifest template at {path}: run dirsync from a source checkout "
            "installed with `pip install -e .`, which carries the manifests/ folder"
        )
    template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return template, folder


def render(
    bot_id: str,
    *,
    version: str | None = None,
    valid_domain: str | None = None,
    developer_url: str | None = None,
    manifests_dir: Path | None = None,
) -> dict[str, Any]:
    """The Teams app manifest for this bot, as a dict ready for json.dump.

    `valid_domain` (the bot's public host) fills `validDomains` and, unless `developer_url` is
    given, the developer's https URLs; without either, those point at example.com."""
    bot_id = check_bot_id(bot_id)
    domain = _check_domain(valid_domain) if valid_domain else None
    if developer_url is None:
        developer_url = f"https://{domain}/" if domain else FALLBACK_DEVELOPER_URL
    if not developer_url.startswith("https://"):
        raise ManifestError(f"developer URL {developer_url!r} must start with https://")
    template, _ = _template(manifests_dir)
    if domain is None:
        template.pop("validDomains", None)
    manifest: dict[str, Any] = _fill(
        template,
        {
            "BOT_ID": bot_id,
            "TEAMS_APP_ID": str(uuid.uuid5(APP_ID_NAMESPACE, bot_id)),
            "APP_VERSION": _check_version(version or default_version()),
            "VALID_DOMAIN": domain or "",
            "DEVELOPER_URL": developer_url,
            "COMMAND_LISTS": command_lists(),
        },
    )
    if manifest.get("manifestVersion") != MANIFEST_VERSION:
        raise ManifestError(f"the template's manifestVersion is not {MANIFEST_VERSION}")
    return manifest


def package_name(manifest: dict[str, Any]) -> str:
    return f"{PACKAGE_STEM}-{manifest['version']}.zip"


def build_package(
    bot_id: str,
    out_dir: Path,
    *,
    version: str | None = None,
    valid_domain: str | None = None,
    developer_url: str | None = None,
    manifests_dir: Path | None = None,
) -> Path:
    """Write `out_dir/manifest.json` and the app package `out_dir/dirsync-teams-<version>.zip`
    (manifest.json, color.png and outline.png at its root); returns the zip's path."""
    manifest = render(
        bot_id,
        version=version,
        valid_domain=valid_domain,
        developer_url=developer_url,
        manifests_dir=manifests_dir,
    )
    _, folder = _template(manifests_dir)
    for icon in ICONS:
        if not (folder / icon).is_file():
            raise ManifestError(f"icon {folder / icon} is missing (manifests/teams/make_icons.py)")
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (out_dir / "manifest.json").write_text(text, encoding="utf-8")
    package = out_dir / package_name(manifest)
    with zipfile.ZipFile(package, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # A fixed timestamp: the same inputs give the same bytes.
        entries = [("manifest.json", text.encode("utf-8"))]
        entries += [(icon, (folder / icon).read_bytes()) for icon in ICONS]
        for name, data in entries:
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return package


def run_manifest(
    bot_id: str,
    out_dir: Path,
    *,
    version: str | None,
    valid_domain: str | None,
    out: TextIO,
    err: TextIO,
) -> int:
    """`dirsync manifest`: build the package and say where it is."""
    package = build_package(bot_id, out_dir, version=version, valid_domain=valid_domain)
    if not valid_domain:
        err.write(
            "dirsync: no --valid-domain: the developer URLs point at example.com and "
            "validDomains is left out\n"
        )
    out.write(f"wrote {out_dir / 'manifest.json'}\n")
    out.write(f"wrote {package} (upload it in Teams: Apps > Manage your apps > Upload an app)\n")
    return 0
