"""Check bodies against the vendors' published OpenAPI files (specs/ here) with JSON Schema.

Use it from tests on both sides of the wire: what a client sends (`validate_request`) and what
the sandbox answers (`validate_response`)::

    from openapi_check import load_spec, validate_request, validate_response

    spec = load_spec("zendesk/tickets.yml")            # or "klaviyo/openapi-stable.json"
    validate_request(spec, "POST", "/api/v2/tickets", {"ticket": {...}})
    validate_response(spec, "POST", "/api/v2/tickets", 201, resp.json())

Both raise `SpecViolation` (an AssertionError listing every schema error) when the body does
not conform, and `LookupError` when the spec has no such operation, status or component.
`path_template` is matched loosely: a `.json` suffix is ignored and placeholder names need not
agree (`/api/v2/tickets/{id}` finds `/api/v2/tickets/{ticket_id}`). `spec` may also be given as
the name passed to `load_spec`.

How the documents are read:
- The specs directory is `specs/` beside this module (the files, their source and licences
  are in its README), or `$ZKB_SPECS_DIR` to check against other copies.
- `$ref`s to `#/components/...` are resolved with `referencing`; validation uses
  `Draft202012Validator` (OpenAPI 3.1 schemas are JSON Schema 2020-12).
- `nullable: true` (OpenAPI 3.0; Klaviyo's file is 3.0.2 and Zendesk's files still use it) is
  rewritten to allow null, which is what it means. Formats are not asserted.
- Zendesk's split files reference core components they do not define (TicketObject,
  AuditObject, UserObject, ...). Those missing names, and only those, are filled from
  `zendesk_missing_components.yml` beside this module (reconstructed from Zendesk's reference
  pages, not vendor text); `Spec.supplemented` lists which ones were used.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

__all__ = ["Spec", "SpecViolation", "load_spec", "specs_dir", "validate_request",
           "validate_response"]

SUPPLEMENTS = {"zendesk/": Path(__file__).with_name("zendesk_missing_components.yml")}


class SpecViolation(AssertionError):
    """A body does not match the schema the spec gives for it."""


@dataclass(frozen=True)
class Spec:
    name: str                       # e.g. "zendesk/tickets.yml"
    document: dict[str, Any]        # after the nullable rewrite and supplement
    uri: str
    registry: Registry
    supplemented: tuple[str, ...]   # component schemas taken from the supplement


def specs_dir() -> Path:
    """$ZKB_SPECS_DIR if set, else the `specs/` folder kept beside this module."""
    return Path(os.environ.get("ZKB_SPECS_DIR") or Path(__file__).with_name("specs"))


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def _allow_null(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 `nullable: true` into JSON Schema, recursively (in place)."""
    if isinstance(node, list):
        for item in node:
            _allow_null(item)
        return node
    if not isinstance(node, dict):
        return node
    for value in node.values():
        _allow_null(value)
    if node.pop("nullable", False) is True:
        kind = node.get("type")
        if isinstance(kind, str):
            node["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            kind.append("null")
        if isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"].append(None)
        if kind is None and any(k in node for k in ("$ref", "allOf", "anyOf", "oneOf")):
            inner = {k: node.pop(k) for k in list(node) if k in ("$ref", "allOf", "anyOf",
                                                                  "oneOf")}
            node["anyOf"] = [inner, {"type": "null"}]
    return node


@functools.cache
def load_spec(name: str) -> Spec:
    """Load `name` (relative to the specs directory), prepared for validation. Cached."""
    document = _allow_null(copy.deepcopy(_read(specs_dir() / name)))
    supplemented: list[str] = []
    for prefix, path in SUPPLEMENTS.items():
        if name.startswith(prefix) and path.exists():
            extra = _allow_null(_read(path)).get("components", {}).get("schemas", {})
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for key, schema in extra.items():
                if key not in schemas:
                    schemas[key] = schema
                    supplemented.append(key)
    uri = f"urn:zkb-spec:{name}"
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    return Spec(name, document, uri, Registry().with_resource(uri, resource),
                tuple(supplemented))


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _node(spec: Spec, pointer: str) -> Any:
    """The node at a JSON pointer, following local `$ref`s; answers (node, final pointer)."""
    node: Any = spec.document
    for raw in pointer.strip("/").split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            raise LookupError(f"{spec.name}: nothing at #{pointer}")
        node = node[key]
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise LookupError(f"{spec.name}: external $ref {ref} not supported")
        return _node(spec, ref[1:])
    return node, pointer


def _shape(template: str) -> tuple[str, ...]:
    path = template.split("?")[0].removesuffix(".json")
    return tuple("{}" if s.startswith("{") else s for s in path.strip("/").split("/"))


def _operation(spec: Spec, method: str, template: str) -> str:
    want = _shape(template)
    for path, item in spec.document.get("paths", {}).items():
        if _shape(path) == want and method.lower() in item:
            return f"/paths/{_escape(path)}/{method.lower()}"
    raise LookupError(f"{spec.name}: no operation {method.upper()} {template}")


def _schema_pointer(spec: Spec, owner: str, content_type: str | None) -> str | None:
    """Pointer to the JSON schema of a request body / response, None if it declares no body."""
    node, owner = _node(spec, owner)
    content = node.get("content")
    if not content:
        return None
    if content_type is None:
        content_type = next((c for c in content if "json" in c), None)
    if content_type not in content or "schema" not in content[content_type]:
        raise LookupError(f"{spec.name}: no schema for {content_type} at #{owner}")
    return f"{owner}/content/{_escape(content_type)}/schema"


def _check(spec: Spec, pointer: str | None, body: Any, where: str) -> None:
    if pointer is None:
        if body not in (None, b"", ""):
            raise SpecViolation(f"{where}: the spec declares no body, got {body!r:.200}")
        return
    validator = Draft202012Validator({"$ref": f"{spec.uri}#{pointer}"}, registry=spec.registry)
    try:
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    except Unresolvable as e:
        raise LookupError(f"{spec.name}: unresolvable reference {e}") from None
    if errors:
        lines = [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
                 for e in errors[:15]]
        more = f"\n  ... and {len(errors) - 15} more" if len(errors) > 15 else ""
        raise SpecViolation(f"{where} does not match {spec.name}:\n" + "\n".join(lines) + more)


def _spec(spec: Spec | str) -> Spec:
    return load_spec(spec) if isinstance(spec, str) else spec


def validate_request(spec: Spec | str, method: str, path_template: str, body: Any,
                     content_type: str | None = None) -> None:
    """Raise SpecViolation unless `body` fits the operation's request body schema."""
    spec = _spec(spec)
    op = _operation(spec, method, path_template)
    node, _ = _node(spec, op)
    if "requestBody" not in node:
        raise LookupError(f"{spec.name}: {method.upper()} {path_template} takes no body")
    pointer = _schema_pointer(spec, f"{op}/requestBody", content_type)
    _check(spec, pointer, body, f"request {method.upper()} {path_template}")


def validate_response(spec: Spec | str, method: str, path_template: str, status: int,
                      body: Any, content_type: str | None = None) -> None:
    """Raise SpecViolation unless `body` fits the response documented for `status`.

    The status is looked up exactly, then as a range (`4XX`), then as `default`.
    """
    spec = _spec(spec)
    op = _operation(spec, method, path_template)
    responses, _ = _node(spec, f"{op}/responses")
    code = next((c for c in (str(status), f"{status // 100}XX", "default") if c in responses),
                None)
    if code is None:
        raise LookupError(f"{spec.name}: {method.upper()} {path_template} documents no "
                          f"{status} response (has {sorted(responses)})")
    pointer = _schema_pointer(spec, f"{op}/responses/{code}", content_type)
    _check(spec, pointer, body, f"response {status} to {method.upper()} {path_template}")
