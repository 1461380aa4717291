"""The OpenAPI document the gateway publishes (/openapi.json), built in-process: a valid OpenAPI 3
document (openapi-spec-validator), every operation with an operationId, an answer schema and its
error answers in the one Error shape, lists documented as the pages they are, and examples that
the routes' own schemas accept."""

from __future__ import annotations

import json

import jsonschema
import pytest
from openapi_spec_validator import validate

from services.gateway import docs, examples
from services.gateway.api import ROUTES
from services.gateway.service import GatewayService  # noqa: F401  (loads every route)
from shared.validation import load
from tests.openapi_check import strict

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document():
    docs._document = None  # built afresh from the routes as they are
    return docs.openapi_document()


def operations(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def test_the_document_is_valid_openapi_3(document):
    validate(document)  # raises, naming the place, if not
    assert document["openapi"].startswith("3.")
    # what is served is the JSON of this document: no Decimal or other value that JSON turns into a string
    assert json.loads(json.dumps(document)) == document
    exam = document["components"]["schemas"]["ExamIn"]["properties"]
    assert (exam["score"]["minimum"], exam["score"]["maximum"]) == (0, 100), exam["score"]
    assert len(list(operations(document))) == len(ROUTES) >= 88


def test_every_operation_has_an_id_an_answer_schema_and_the_error_shape(document):
    problems, ids = [], {}
    for path, method, op in operations(document):
        where = f"{method.upper()} {path}"
        if not op.get("operationId"):
            problems.append(f"{where}: no operationId")
        ids.setdefault(op.get("operationId"), []).append(where)
        ok = [code for code in op["responses"] if code.startswith("2")]
        if len(ok) == 2 and "202" in ok:  # besides its answer, work continued in the background
            accepted = op["responses"]["202"]
            if "Location" not in accepted.get("headers", {}):
                problems.append(f"{where}: 202 without its Location")
            if not accepted["content"]["application/json"]["schema"].get("$ref"):
                problems.append(f"{where}: 202 without a job schema")
            ok.remove("202")
        if len(ok) != 1:
            problems.append(f"{where}: {len(ok)} success answers")
            continue
        content = op["responses"][ok[0]].get("content") or {}
        if not content or not all(media.get("schema") for media in content.values()):
            problems.append(f"{where}: no answer schema")
        json_schema = (content.get("application/json") or {}).get("schema")
        if (
            json_schema is not None
            and not json_schema.get("$ref")
            and json_schema.get("type") not in ("array", "object")
        ):
            problems.append(f"{where}: JSON answer {json_schema}")
        for code in ("400", "403", "404", "422", "503"):
            if code not in op["responses"]:
                problems.append(f"{where}: no {code} answer")
        for code, answer in op["responses"].items():
            if code[0] in "45" and answer != {"$ref": f"#/components/responses/{_name(document, code)}"}:
                problems.append(f"{where}: {code} is not the shared error answer: {answer}")
    problems += [f"operationId {i} used by {w}" for i, w in ids.items() if len(w) > 1]
    assert not problems, "\n".join(problems)
    for name, answer in document["components"]["responses"].items():
        assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, name
    assert "Retry-After" in document["components"]["responses"]["ServiceUnavailable"]["headers"]


def _name(document, code):
    return next(name for c, name, _ in docs.ERRORS if c == code)


# the ledger answers bare rows (paged by limit and offset, as the sheet it stands for): documented so
PLAIN_ROWS = {"ledger"}


def test_lists_are_documented_as_the_pages_they_return(document):
    """A JSON route that takes `offset` answers one page of a list: ``items`` and the paging fields."""
    schemas, problems = document["components"]["schemas"], []
    for path, method, op in operations(document):
        names = {p["name"] for p in op.get("parameters", ()) if p["in"] == "query"}
        if "offset" not in names or "application/json" not in op["responses"]["200"]["content"]:
            continue
        answer = op["responses"]["200"]["content"]["application/json"]
        schema = answer["schema"]
        if op["operationId"] in PLAIN_ROWS:
            assert schema["type"] == "array", schema
            continue
        page = schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
        props = page.get("properties", {})
        if props.get("items", {}).get("type") != "array" or not {"total", "limit", "offset"} <= set(props):
            problems.append(f"{method.upper()} {path}: a paged list documented as {schema}")
        elif not {"items", "total", "limit", "offset"} <= set(page.get("required", ())):
            problems.append(f"{method.upper()} {path}: page fields not required: {page.get('required')}")
    assert not problems, "\n".join(problems)


MAIN_CALLS = (
    "create_ticket",
    "list_tickets",
    "check_in",
    "check_out",
    "settlement_submit_claim",
    "settlement_issue_statement",
)


def test_the_main_calls_have_examples_their_schemas_accept(document):
    by_id = {meta["operation_id"]: meta for _, _, meta in ROUTES}
    ops = {op["operationId"]: op for _, _, op in operations(document)}
    components = strict(document["components"])
    assert set(MAIN_CALLS) <= set(examples.EXAMPLES), set(MAIN_CALLS) - set(examples.EXAMPLES)
    for operation_id, example in examples.EXAMPLES.items():
        op, meta = ops[operation_id], by_id[operation_id]
        if "request" in example:
            assert op["requestBody"]["content"]["application/json"]["example"] == example["request"]
            load(meta["body"](), example["request"])  # ValidationFailed, naming the field, if the route refuses it
        answer = op["responses"][str(meta["status"])]["content"]["application/json"]
        assert answer["example"] == example["response"], operation_id
        schema = dict(strict(answer["schema"]), components=components)
        jsonschema.Draft4Validator(schema).validate(example["response"])


def _answer(method, path, status, body):
    import requests

    r = requests.Response()
    r.status_code, r._content = status, json.dumps(body).encode()
    r.headers["Content-Type"] = "application/json"
    r.request = requests.Request(method, "http://gateway" + path).prepare()
    return r


def test_the_answer_check_refuses_what_the_document_does_not_say(document):
    """tests/openapi_check.AnswerCheck, which the service and e2e tests run on real answers: an
    undocumented field, a missing page field, a wrong type and an undocumented status all fail."""
    from tests.openapi_check import AnswerCheck

    check = AnswerCheck(document)
    page = examples.EXAMPLES["list_tickets"]["response"]
    check(_answer("GET", "/api/v1/tickets?limit=1", 200, page))
    check(_answer("GET", "/api/v1/tickets/abc", 404, {"error": {"code": "not_found", "message": "no", "call_id": "x"}}))
    wrong = (
        ("GET", "/api/v1/tickets", 200, dict(page, extra=1), "'extra' was unexpected"),
        ("GET", "/api/v1/tickets", 200, {k: v for k, v in page.items() if k != "total"}, "'total' is a required"),
        ("GET", "/api/v1/tickets", 200, dict(page, items=[dict(page["items"][0], priority="high")]), "not of type"),
        ("GET", "/api/v1/tickets", 418, {"error": {"code": "x", "message": "y"}}, "status not in the document"),
        ("GET", "/api/v1/tickets/abc", 404, {"error": {"message": "no"}}, "'code' is a required"),
    )
    for method, path, status, body, says in wrong:
        with pytest.raises(AssertionError, match=says):
            check(_answer(method, path, status, body))
    assert check.checked == {"list_tickets": 1, "get_ticket": 1}
