"""Partial responses: the standard `fields` parameter (`nextPageToken,members(id,status)`,
`name/givenName`, `*`), applied to a successful call's JSON body as Google does. Field names
are not checked against the schema (Google refuses unknown ones); a malformed selection is
refused with 400 invalid."""

from __future__ import annotations

from typing import Any

from .errors import ApiError, invalid

Selection = dict[str, Any]  # name -> its own Selection, or None for the whole value


def parse_fields(text: str) -> Selection:
    tree: Selection = {}
    end = _parse(text, 0, tree)
    if end != len(text) or not tree:
        raise _malformed(text)
    return tree


def _malformed(text: str) -> ApiError:
    return invalid(f"Invalid field selection {text}", location="fields")


def _parse(text: str, i: int, tree: Selection) -> int:
    while True:
        start = i
        while i < len(text) and text[i] not in ",()":
            i += 1
        path = [name.strip() for name in text[start:i].split("/")]
        if not all(path):
            raise _malformed(text)
        node = tree
        for name in path[:-1]:
            whole = name in node and node[name] is None  # the whole value is selected already
            node = {} if whole else node.setdefault(name, {})
        last = path[-1]
        if i < len(text) and text[i] == "(":
            sub: Selection = {}
            i = _parse(text, i + 1, sub)
            if i >= len(text) or text[i] != ")":
                raise _malformed(text)
            i += 1
            if not (last in node and node[last] is None):
                node.setdefault(last, {}).update(sub)
        else:
            node[last] = None
        if i < len(text) and text[i] == ",":
            i += 1
            continue
        return i


def select(value: Any, tree: Selection | None) -> Any:
    """`value` with only the selected fields (lists: each element)."""
    if tree is None or ("*" in tree and tree["*"] is None):
        return value
    if isinstance(value, list):
        return [select(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: select(value[key], sub) for key, sub in tree.items() if key in value}
