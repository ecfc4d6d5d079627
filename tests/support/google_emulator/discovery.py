"""Routes and parameter checks taken from the discovery documents google-api-python-client ships.

Every request the emulator serves is matched against the method table of the
discovery document (HTTP method + path template) and its query parameters are
checked the way Google's front end does: unknown parameters, repeated
non-repeated parameters, bad enum values, non-numeric integers and bad
booleans are 400 errors; missing required parameters too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import googleapiclient

DOCUMENTS = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"


class BadRequest(Exception):
    """A request the discovery document does not allow (HTTP 400)."""

    def __init__(self, message: str, reason: str = "invalidParameter", status: int = 400):
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(slots=True)
class Method:
    """One API method of a discovery document."""

    id: str
    http_method: str
    path: str
    regex: re.Pattern
    path_params: list[str]
    parameters: dict[str, dict[str, Any]]
    scopes: list[str]
    api: str


@dataclass(slots=True)
class Api:
    """The routable subset of one discovery document."""

    name: str
    service_path: str
    batch_path: str
    global_parameters: dict[str, dict[str, Any]]
    methods: list[Method] = field(default_factory=list)
    by_id: dict[str, Method] = field(default_factory=dict)


def _template_regex(path: str) -> tuple[re.Pattern, list[str]]:
    names: list[str] = []
    out = ""
    for part in re.split(r"(\{\+?[A-Za-z_]+\})", path):
        m = re.fullmatch(r"\{(\+?)([A-Za-z_]+)\}", part)
        if m:
            names.append(m.group(2))
            out += f"(?P<{m.group(2)}>.+)" if m.group(1) else f"(?P<{m.group(2)}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(out + r"\Z"), names


def load_api(name: str, version: str) -> Api:
    """Load ``name.version.json`` and build its method table."""
    doc = json.loads((DOCUMENTS / f"{name}.{version}.json").read_text(encoding="utf-8"))
    api = Api(
        name=name,
        service_path=doc["servicePath"],
        batch_path=doc.get("batchPath", "batch"),
        global_parameters=doc.get("parameters", {}),
    )

    def walk(resources: dict[str, Any]) -> None:
        for res in resources.values():
            for m in res.get("methods", {}).values():
                full = api.service_path + m["path"]
                regex, names = _template_regex(full)
                method = Method(
                    id=m["id"],
                    http_method=m["httpMethod"],
                    path=full,
                    regex=regex,
                    path_params=names,
                    parameters=m.get("parameters", {}),
                    scopes=m.get("scopes", []),
                    api=name,
                )
                api.methods.append(method)
                api.by_id[method.id] = method
            walk(res.get("resources", {}))

    walk(doc.get("resources", {}))
    # Literal paths first (".../messages/send" before ".../messages/{id}").
    api.methods.sort(key=lambda m: (m.path.count("{"), -len(m.path)))
    return api


def match(apis: list[Api], http_method: str, path: str) -> tuple[Method, dict[str, str]] | None:
    """The method serving ``http_method path`` (path without the leading slash), or None."""
    for api in apis:
        for method in api.methods:
            if method.http_method != http_method:
                continue
            m = method.regex.match(path)
            if m:
                return method, {k: unquote(v) for k, v in m.groupdict().items()}
    return None


def _check_value(name: str, spec: dict[str, Any], value: str) -> Any:
    kind = spec.get("type", "string")
    if "enum" in spec and value not in spec["enum"]:
        raise BadRequest(
            f"Invalid value '{value}' for parameter '{name}'. Allowed: {', '.join(spec['enum'])}"
        )
    if kind == "integer" or spec.get("format") in ("int64", "uint64", "uint32", "int32"):
        if not re.fullmatch(r"-?\d+", value):
            raise BadRequest(
                f"Invalid value '{value}'. Values must match the following regular "
                f"expression: '-?\\d+' (parameter {name})"
            )
        number = int(value)
        if "minimum" in spec and number < int(spec["minimum"]):
            raise BadRequest(f"Invalid value '{value}' for parameter '{name}': below minimum")
        if "maximum" in spec and number > int(spec["maximum"]):
            raise BadRequest(f"Invalid value '{value}' for parameter '{name}': above maximum")
        return number if kind == "integer" else value
    if kind == "boolean":
        if value not in ("true", "false", "True", "False", "1", "0"):
            raise BadRequest(f"Invalid boolean value '{value}' for parameter '{name}'")
        return value in ("true", "True", "1")
    return value


def check_parameters(
    api: Api, method: Method, path_values: dict[str, str], query: dict[str, list[str]]
) -> dict[str, Any]:
    """Validate the query against the method's parameters; return typed values.

    Repeated parameters come back as lists, others as single values.
    """
    out: dict[str, Any] = {}
    for name, value in path_values.items():
        out[name] = value
    for name, values in query.items():
        spec = method.parameters.get(name) or api.global_parameters.get(name)
        if spec is None:
            raise BadRequest(
                f'Invalid JSON payload received. Unknown name "{name}": '
                "Cannot bind query parameter."
            )
        if spec.get("location") == "path":
            raise BadRequest(f"Parameter '{name}' belongs in the path")
        if not spec.get("repeated") and len(values) > 1:
            raise BadRequest(
                f"Parameter '{name}' is not repeated but was given {len(values)} times"
            )
        typed = [_check_value(name, spec, v) for v in values]
        out[name] = typed if spec.get("repeated") else typed[0]
    for name, spec in method.parameters.items():
        if spec.get("required") and name not in out:
            raise BadRequest(f"Required parameter: {name}", reason="required")
    return out
