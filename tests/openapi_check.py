"""Real answers checked against the gateway's published OpenAPI document, so the document cannot
drift from what the services return.

`AnswerCheck(document)` takes a response of the running gateway and validates its JSON body
against the schema the document gives for that operation and status (a status it does not list is
an error too). The check is stricter than the document: an object may not carry a property the
schema does not name (a field a service added without documenting it fails here), and OpenAPI
3.0's ``nullable`` becomes JSON Schema's null type. Formats are not checked.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import jsonschema
from werkzeug.routing import Map, Rule


def strict(node):
    """The OpenAPI 3.0 schema `node` as a plain JSON Schema that refuses undocumented properties."""
    if isinstance(node, list):
        return [strict(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: strict(v) for k, v in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [{"type": "null"}, node]}
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


class AnswerCheck:
    def __init__(self, document: dict) -> None:
        self.document = document
        self.components = strict(document["components"])
        rules = []
        for path, operations in document["paths"].items():
            rule = re.sub(r"{([a-zA-Z_]+)}", r"<\1>", path)
            rules.extend(Rule(rule, methods=[m.upper()], endpoint=(path, m)) for m in operations)
        self.routes = Map(rules, strict_slashes=False).bind("gateway")
        self.checked: dict[str, int] = {}  # operationId -> answers checked

    def operation(self, method: str, url: str) -> dict:
        (path, method), _ = self.routes.match(urlparse(url).path, method=method.upper())
        return self.document["paths"][path][method]

    def __call__(self, response) -> None:
        """AssertionError naming the operation and every mismatch if `response` (requests) is not
        what the document says the operation answers."""
        request = response.request
        op = self.operation(request.method, request.url)
        status = str(response.status_code)
        where = f"{request.method} {urlparse(request.url).path} ({op['operationId']}) -> {status}"
        documented = op["responses"].get(status)
        assert documented is not None, f"{where}: status not in the document ({sorted(op['responses'])})"
        if "$ref" in documented:
            documented = self.document["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]
        kind = response.headers.get("Content-Type", "").split(";")[0]
        assert kind in documented.get("content", {}), f"{where}: {kind} not in {sorted(documented.get('content', {}))}"
        if kind != "application/json":
            return
        schema = dict(strict(documented["content"][kind]["schema"]), components=self.components)
        errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(response.json()), key=lambda e: list(e.path))
        assert not errors, f"{where}: the answer does not match its documented schema:\n" + "\n".join(
            f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:10]
        )
        self.checked[op["operationId"]] = self.checked.get(op["operationId"], 0) + 1
