"""Training plans' payloads in and out (RPC and HTTP share them)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.certification.schemas import Strict
from services.certification.training import KINDS


class PlannedSessionIn(Strict):
    title = fields.Str(required=True, validate=validate.Length(min=2, max=128))
    planned_on = fields.Date(required=True)
    location = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=128))


class TrainingPlanIn(Strict):
    """A training plan (培训计划): HQ's annual / new-product / special plan (for one center, or with
    no tenant_id for every center), or a center's regional plan."""

    year = fields.Int(required=True, validate=validate.Range(min=2000, max=2100))
    kind = fields.Str(required=True, validate=validate.OneOf(KINDS))
    product_line = fields.Str(required=True)
    title = fields.Str(required=True, validate=validate.Length(min=2, max=128))
    tenant_id = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=1, max=16))
    launch_on = fields.Date(load_default=None, allow_none=True)
    sessions = fields.List(fields.Nested(PlannedSessionIn), required=True, validate=validate.Length(min=1, max=24))


class TrainingPlanQuery(Strict):
    year = fields.Int(load_default=None, allow_none=True, validate=validate.Range(min=2000, max=2100))
    product_line = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=64))
    tenant_id = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=1, max=16))


class PlanSessionIn(Strict):
    """A session held under a plan (its line and center are the plan's)."""

    title = fields.Str(required=True, validate=validate.Length(min=2, max=128))
    held_on = fields.Date(required=True)
    trainer = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=64))
    location = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=128))
    attendees = fields.List(fields.Str(validate=validate.Length(min=1, max=32)), load_default=list)


class PlannedSessionOut(Schema):
    title = fields.Str()
    planned_on = fields.Date()
    location = fields.Str(allow_none=True)


class HeldSessionOut(Schema):
    id = fields.Str()
    title = fields.Str()
    held_on = fields.Date()
    trainer = fields.Str(allow_none=True)
    location = fields.Str(allow_none=True)
    attendees = fields.List(fields.Str())


class PlanProgressOut(Schema):
    planned = fields.Int()
    held = fields.Int()
    due = fields.Int()
    behind = fields.Int()


class TrainingPlanOut(Schema):
    id = fields.Str()
    group_id = fields.Str()
    tenant_id = fields.Str()
    year = fields.Int()
    kind = fields.Str()
    kind_name = fields.Str()
    organiser = fields.Str()
    product_line = fields.Str()
    title = fields.Str()
    launch_on = fields.Date(allow_none=True)
    planned_sessions = fields.List(fields.Nested(PlannedSessionOut))
    sessions = fields.List(fields.Nested(HeldSessionOut))
    progress = fields.Nested(PlanProgressOut)
    created_by = fields.Str()


class TrainingPlanPage(Schema):
    items = fields.List(fields.Nested(TrainingPlanOut))
    total = fields.Int()
    warnings = fields.List(fields.Str())


class TrainingPlanCreated(Schema):
    items = fields.List(fields.Nested(TrainingPlanOut))
    warnings = fields.List(fields.Str())
