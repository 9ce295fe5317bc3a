"""Structural edits of the rule builder (add or remove a condition, group, negate, add an offer, reorder channels).

Pure: rule content in, new content out. The builder's buttons post one edit as ``verb:form-path``
(``add:r.when.all``, ``remove:r.when.all.1``, ``offer-remove:0``); the same function serves the
page without JavaScript (the buttons submit the form) and the live builder (``console.js`` posts
the form and swaps the re-rendered builder in). An edit that names no existing place changes nothing.

>>> content = {"when": None}
>>> apply_edit(content, "add:r.when")["when"]
{'all': [{'field': 'risk.bucket', 'op': 'in', 'value': ['high']}]}
"""

from __future__ import annotations

import copy
from typing import Any

from retain.console.rule_fields import retyped
from retain.console.rule_form import BLANK_COMPARISON, GROUPS, PREFIX

EDIT_VERBS = ("sync", "add", "group", "remove", "negate", "unwrap", "retype", "offer-add", "offer-remove", "channel-up")


def _segments(path: str) -> list[str | int] | None:
    parts = path.split(".")
    if not parts or parts[0] != PREFIX:
        return None
    return [int(p) if p.isdigit() else p for p in parts[1:]]


def _get(content: Any, segments: list[str | int]) -> Any:
    node = content
    for part in segments:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
        elif isinstance(part, str) and isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _set(content: dict[str, Any], segments: list[str | int], value: Any) -> None:
    parent = _get(content, segments[:-1])
    last = segments[-1]
    if isinstance(parent, dict) or (isinstance(parent, list) and isinstance(last, int) and last < len(parent)):
        parent[last] = value


def _group_list(node: Any) -> list[Any] | None:
    if isinstance(node, dict):
        for kind in GROUPS:
            if isinstance(node.get(kind), list):
                return node[kind]
    return None


def _remove(content: dict[str, Any], segments: list[str | int]) -> None:
    if segments == ["when"]:
        content["when"] = None
        return
    parent_path, last = segments[:-1], segments[-1]
    parent = _get(content, parent_path)
    if isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        parent.pop(last)
    elif last == "not" and isinstance(parent, dict):
        _remove(content, parent_path)  # a "not" without its child means nothing: it goes too


def apply_edit(content: dict[str, Any], edit: str) -> dict[str, Any]:
    """``content`` after one builder edit (a copy; the input is not changed)."""
    verb, _, target = edit.partition(":")
    out = copy.deepcopy(content)
    action = out.get("action") if isinstance(out.get("action"), dict) else None
    if verb == "offer-add" and action is not None:
        action.setdefault("offers", []).append({"code": "", "description": ""})
    elif verb == "offer-remove" and action is not None and target.isdigit():
        offers = action.get("offers") or []
        if int(target) < len(offers):
            offers.pop(int(target))
    elif verb == "channel-up" and action is not None and target.isdigit():
        channels, index = action.get("channels") or [], int(target)
        if 0 < index < len(channels):
            channels[index - 1], channels[index] = channels[index], channels[index - 1]
    segments = _segments(target) if verb in ("add", "group", "remove", "negate", "unwrap", "retype") else None
    if not segments or segments[0] != "when":  # the condition edits act on conditions only
        return out
    node = _get(out, segments)
    if verb in ("add", "group"):
        new = copy.deepcopy(BLANK_COMPARISON) if verb == "add" else {"all": [copy.deepcopy(BLANK_COMPARISON)]}
        children = _group_list(node)
        if segments == ["when"] and node is None:
            out["when"] = {"all": [new]}
        elif children is not None:
            children.append(new)
        elif isinstance(node, dict):  # a lone comparison (or not) becomes the first of a group
            _set(out, segments, {"all": [node, new]})
    elif verb == "remove":
        _remove(out, segments)
    elif verb == "negate" and node is not None:
        _set(out, segments, {"not": node})
    elif verb == "unwrap" and isinstance(node, dict) and "not" in node:
        _set(out, segments, node["not"])
    elif verb == "retype" and isinstance(node, dict) and "field" in node:
        node["value"] = retyped(node.get("field"), node.get("op"), node.get("value"))
    return out
