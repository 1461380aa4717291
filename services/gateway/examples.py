"""Examples of the main calls in the OpenAPI document, keyed by operationId: ``request`` is a body
the route takes, ``response`` an answer it gives (taken from a demo run). A test loads every
request example with the route's schema and checks every answer example against the document."""

from __future__ import annotations

_DEADLINES = [
    {"sla": "accept", "due_at": "2026-11-04T07:01:29+00:00", "met_at": None, "breached_at": None},
    {"sla": "phone_reply", "due_at": "2026-11-05T07:01:29+00:00", "met_at": None, "breached_at": None},
    {"sla": "onsite", "due_at": "2026-11-04T07:01:29+00:00", "met_at": None, "breached_at": None},
]

NEW_TICKET = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉精工机械有限公司",
    "phone": "13800000000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2026-06-01",
    "fault": "主轴过热",
}

TICKET = {
    "id": "d0c2420e05ef45ac9a1ca7fb76565afc",
    "number": "C01-261103-22AMFJ3T",
    "tenant_id": "C01",
    "external_ref": None,
    "kind": "repair",
    "channel": "hotline",
    "status": "registered",
    "case_state": None,
    "priority": 3,
    "escalation": None,
    "customer_id": "cu_6cb523e24ca87ee9",
    "customer_name": "武汉精工机械有限公司",
    "phone": "13800000000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "postcode": None,
    "province": "湖北省",
    "city": "武汉市",
    "district": "洪山区",
    "adcode": "420111",
    "lat": 30.500247,
    "lon": 114.343796,
    "geo_precision": "district",
    "geo_ambiguous": False,
    "triage_reason": None,
    "tier": "local",
    "product_line": "数控车床",
    "model": "CK6150",
    "serial_no": None,
    "purchase_date": "2026-06-01",
    "fault": "主轴过热",
    "wished_visit_at": None,
    "warranty": "warranty",
    "warranty_remedy": "repair",
    "warranty_reason": "within the 1-year warranty (until 2027-06-01)",
    "owner_user": "wuhan-agent",
    "assigned_outlet_id": None,
    "received_at": "2026-11-03T07:01:29+00:00",
    "registered_at": "2026-11-03T07:01:29+00:00",
    "onsite_at": None,
    "closed_at": None,
    "version": 1,
    "deadlines": _DEADLINES,
}

VISIT = {
    "id": "8938ea25445549718985f176bbe478a4",
    "tenant_id": "C01",
    "ticket_id": "d0c2420e05ef45ac9a1ca7fb76565afc",
    "ticket_number": "C01-261103-22AMFJ3T",
    "kind": "repair",
    "priority": 3,
    "product_line": "数控车床",
    "lat": 30.500247,
    "lon": 114.343796,
    "city": "武汉市",
    "tier": "local",
    "received_at": "2026-11-03T07:01:29+00:00",
    "onsite_due": "2026-11-04T07:01:29+00:00",
    "window_start": None,
    "service_minutes": 90,
    "status": "started",
    "unassignable_reason": None,
    "technician_id": "C01-O05-T1",
    "outlet_id": "C01-O05",
    "pinned_technician_id": None,
    "planned_arrival": "2026-11-04T02:21:16+00:00",
    "route_order": 1,
    "planned_km": 90.34,
    "started_at": "2026-11-04T02:25:31+00:00",
    "completed_at": None,
    "onsite_on_time": True,
    "return_of": None,
    "version": 4,
    "late_risk": False,
}

CLAIM = {
    "id": "CLd7c7193a9b0048df99",
    "tenant_id": "C01",
    "outlet_id": "C01-O01",
    "visit_id": "8938ea25445549718985f176bbe478a4",
    "ticket_id": "d0c2420e05ef45ac9a1ca7fb76565afc",
    "source": "outlet",
    "visit_at": "2026-11-04T04:05:12+00:00",
    "visit_date": "2026-11-04",
    "kind": "repair",
    "product_line": "数控车床",
    "fault": "主轴过热",
    "fault_class": "mechanical",
    "serial_no": "CK615026E2E01",
    "tier": "in_province",
    "payer": "warranty",
    "warranty": "warranty",
    "grade": "A",
    "km": 25.0,
    "travel_days": 0,
    "parts_count": 0,
    "tariff_versions": ["HQ-2026"],
    "price_lines": [
        {
            "code": "labour",
            "amount": "346.50",
            "tariff_line": "HQ-2026:labour/数控车床/repair/mechanical",
            "rule": "labour repair (mechanical) 315 × grade A 1.1 [HQ-2026:grade_coefficient/A]",
        },
        {
            "code": "visit_fee",
            "amount": "60.00",
            "tariff_line": "HQ-2026:visit_fee",
            "rule": "visit fee per completed visit",
        },
        {
            "code": "transport",
            "amount": "35.00",
            "tariff_line": "HQ-2026:transport_bands/1",
            "rule": "band 10-30 km for 25.0 km (planned)",
        },
    ],
    "claimed_lines": {"labour": "346.50"},
    "tariff_total": "441.50",
    "claimed_total": "441.50",
    "approved": "441.50",
    "adjustments": [],
    "rules": [
        {"rule": "duplicate_claim", "outcome": "pass", "reason": "first claim for the visit", "amount": None},
        {"rule": "tariff_cap", "outcome": "pass", "reason": "claimed within the tariff", "amount": None},
    ],
    "status": "center_review",
    "level": "center",
    "flagged": False,
    "held": False,
    "duplicate": False,
    "receipt": None,
    "statement_id": None,
    "version": 2,
    "created_at": "2026-11-04T07:03:12+00:00",
    "decided_at": None,
    "audits": [],
    "holds": [],
}

STATEMENT = {
    "id": "ST0dccacbfeedc459ab3",
    "tenant_id": "C01",
    "outlet_id": "C01-O01",
    "month": "2026-11",
    "issued_at": "2026-12-01T02:00:00+00:00",
    "issued_by": "wuhan-agent",
    "total": "441.50",
    "paid": "0.00",
    "outstanding": "441.50",
    "status": "issued",
    "lines": [
        {
            "seq": 1,
            "kind": "claim",
            "ref": "CLd7c7193a9b0048df99",
            "claim_id": "CLd7c7193a9b0048df99",
            "description": "repair C01-261103-22AMFJ3T on 2026-11-04",
            "amount": "441.50",
            "tariff_line": None,
            "rule": None,
        }
    ],
    "payments": [],
}

EXAMPLES: dict[str, dict] = {
    "create_ticket": {"request": NEW_TICKET, "response": TICKET},
    "list_tickets": {"response": {"items": [TICKET], "total": 1, "limit": 100, "offset": 0}},
    # the first-contact owner hands a complaint over, the reason in the note (README "Complaint handling")
    "transition": {
        "request": {"action": "hand_over", "owner_user": "wuhan-quality", "note": "转质量组专人跟踪到底"},
        "response": dict(
            TICKET, kind="complaint", status="accepted", case_state="internal_check", owner_user="wuhan-quality"
        ),
    },
    "triage_queue": {
        "response": {
            "items": [
                dict(
                    TICKET,
                    tenant_id="HQ",
                    number="HQ-261103-7K3QX9MZ",
                    status="triage",
                    address="青山区和平大道293号",
                    province=None,
                    city=None,
                    district=None,
                    adcode=None,
                    lat=None,
                    lon=None,
                    geo_precision=None,
                    geo_ambiguous=True,
                    tier=None,
                    triage_reason="ambiguous district name",
                    candidates=[
                        {"tenant_id": "C06", "province": "内蒙古自治区"},
                        {"tenant_id": "C01", "province": "湖北省"},
                    ],
                )
            ],
            "total": 1,
            "limit": 20,
            "offset": 0,
        }
    },
    "sla_report": {
        "response": {
            "period": "week",
            "sla": "onsite",
            "starts": ["2026-11-23", "2026-11-30"],
            "rows": [
                {
                    "start": "2026-11-30",
                    "tenant_id": "C01",
                    "tier": "local",
                    "met": 41,
                    "met_late": 2,
                    "breached": 1,
                    "at_risk": 3,
                    "open": 9,
                    "total": 56,
                },
            ],
            "by_tenant": [
                {
                    "start": "2026-11-30",
                    "tenant_id": "C01",
                    "met": 41,
                    "met_late": 2,
                    "breached": 1,
                    "at_risk": 3,
                    "open": 9,
                    "total": 56,
                },
            ],
            "by_tier": [
                {
                    "start": "2026-11-30",
                    "tier": "local",
                    "met": 41,
                    "met_late": 2,
                    "breached": 1,
                    "at_risk": 3,
                    "open": 9,
                    "total": 56,
                },
            ],
        }
    },
    "check_in": {"request": {"lat": 30.5003, "lon": 114.3438}, "response": VISIT},
    "check_out": {
        "request": {
            "work_done": "更换主轴轴承, 试车正常",
            "customer_confirmed": True,
            "parts_used": [
                {"part_no": "CKL-SPB-6150", "quantity": 1, "new_serial": "SPB-0001", "removed_serial": "SPB-7781"}
            ],
        },
        "response": dict(VISIT, status="completed", completed_at="2026-11-04T04:05:12+00:00", version=5),
    },
    "request_return_visit": {
        "request": {"reason": "主轴轴承需返厂更换，配件到货后二次上门", "wished_date": "2026-11-06"},
        "response": dict(
            VISIT,
            id="5f0d6a8e1c2b4d7f9a3e6b1c8d2f4a70",
            status="unplanned",
            received_at="2026-11-04T04:20:00+00:00",
            window_start="2026-11-05T16:00:00+00:00",
            onsite_due="2026-11-06T16:00:00+00:00",
            pinned_technician_id="C01-O05-T1",
            planned_arrival=None,
            route_order=None,
            planned_km=None,
            started_at=None,
            onsite_on_time=None,
            return_of="8938ea25445549718985f176bbe478a4",
            return_reason="主轴轴承需返厂更换，配件到货后二次上门",
            return_requested_by="o5-clerk",
            version=1,
        ),
    },
    "settlement_submit_claim": {
        "request": {"visit_id": "8938ea25445549718985f176bbe478a4", "claimed": {"labour": "346.50"}},
        "response": CLAIM,
    },
    "settlement_issue_statement": {"request": {"outlet_id": "C01-O01", "month": "2026-11"}, "response": STATEMENT},
    "settlement_get_statement": {"response": STATEMENT},
    "parts_book_scan": {
        "request": {
            "kind": "rma",
            "location_id": "WH-C01",
            "rma_no": "RMA-C01-261203-D925C3",
            "quantity": 1,
            "serial": "SPB-O-2002",
            "note": "网点顺丰寄回，外包装完好",
        },
        "response": {
            "scan_id": "HAND-1D86FC4FAE0144A8",
            "kind": "rma",
            "location_id": "WH-C01",
            "rma_no": "RMA-C01-261203-D925C3",
            "outcome": "accepted",
            "detail": "warehouse",
            "received_at": "2026-12-03T10:28:41+00:00",
        },
    },
}

# a web request forwarded to its center under the 1-hour rule: the center's inbox notice (notify)
NOTICE = {
    "id": 1,
    "tenant_id": "C01",
    "kind": "web_forwarded",
    "event_type": "ticket.registered",
    "audience": "center",
    "audience_id": "C01",
    "channel": "inbox",
    "address": "",
    "subject": "【网上报修转交】C01-261203-7Q2K9F4M",
    "body": "网上报修单 C01-261203-7Q2K9F4M（维修）已转交贵中心，收到时间 2026-12-03 10:30（北京时间）。"
    "请在 1 小时内受理并安排服务。产品：数控车床 CK6150；故障：无法启动。",
    "ticket_id": "5f0c8e1d2a3b4c5d6e7f8091a2b3c4d5",
    "urgent": False,
    "status": "sent",
    "attempts": 0,
    "error": None,
    "created_at": "2026-12-03T02:30:05+00:00",
    "next_attempt_at": None,
    "sent_at": "2026-12-03T02:30:05+00:00",
    "read_at": None,
}
EXAMPLES["notify_inbox"] = {"response": {"items": [NOTICE], "total": 1, "unread": 1, "limit": 100, "offset": 0}}
EXAMPLES["notify_mark_read"] = {"response": dict(NOTICE, read_at="2026-12-03T02:41:17+00:00")}

# HQ's ranking of the centers for a month (GET /qa/center-assessments?month=2026-11): the first center
_ASSESSMENT = {
    "tenant_id": "C01",
    "period": "2026-11",
    "kind": "month",
    "rated": True,
    "score": "94.0",
    "stars": 4,
    "grade": "A",
    "jobs": 12,
    "rank": 1,
    "lines": [
        {
            "line": "service_norms",
            "label": "客户服务(“真诚服务”规范)",
            "label_en": "service norms",
            "max": 25,
            "raw": 21,
            "score": 21,
            "capped": False,
            "items": [
                {
                    "kind": "norm_breach",
                    "label": "未按规范做",
                    "label_en": "service norm not followed",
                    "points_each": -4,
                    "count": 1,
                    "points": -4,
                    "occurrences": [
                        {
                            "key": "sla:d0c2420e05ef45ac9a1ca7fb76565afc:accept",
                            "facts": [
                                {
                                    "ref": "ticket:C01-261103-22AMFJ3T",
                                    "source": "center_facts",
                                    "note": "accept missed (ticket's outlet C01-O01, not charged)",
                                    "at": "2026-11-04T07:01:29+00:00",
                                }
                            ],
                        }
                    ],
                }
            ],
        },
        {
            "line": "information_feedback",
            "label": "信息反馈",
            "label_en": "information feedback",
            "max": 20,
            "raw": 20,
            "score": 20,
            "capped": False,
            "items": [],
        },
        {
            "line": "service_management",
            "label": "客户服务的管理",
            "label_en": "service management",
            "max": 30,
            "raw": 28,
            "score": 28,
            "capped": False,
            "items": [
                {
                    "kind": "callback_missed",
                    "label": "未100%回访",
                    "label_en": "callback not made (not 100%)",
                    "points_each": -1,
                    "count": 2,
                    "points": -2,
                    "occurrences": [
                        {
                            "key": f"callback:{callback}",
                            "facts": [
                                {
                                    "ref": f"callback:{callback}",
                                    "source": "callbacks",
                                    "note": "due 2026-11-20T07:00:00+00:00, not made",
                                    "at": "2026-11-20T07:00:00+00:00",
                                }
                            ],
                        }
                        for callback in ("5b1f0e2a9c4d4e21a7c3f1b2d4e6a8c0", "9e8d7c6b5a4f4e3d2c1b0a9f8e7d6c5b")
                    ],
                }
            ],
        },
        {
            "line": "customer_opinion",
            "label": "客户意见",
            "label_en": "customer opinion",
            "max": 25,
            "raw": 25,
            "score": 25,
            "capped": False,
            "items": [],
        },
    ],
    "kpis": {
        "jobs": 12,
        "onsite_on_time": 11,
        "onsite_visits": 12,
        "onsite_on_time_share": "0.917",
        "onsite_by_tier": {"local": {"on_time": 11, "visits": 12, "share": "0.917"}},
        "callbacks_due": 15,
        "callbacks_on_time": 13,
        "callbacks_on_time_share": "0.867",
        "satisfaction_answers": 13,
        "satisfaction_total": 58,
        "satisfaction_average": "4.46",
        "complaints": 1,
        "deadlines_missed": 1,
        "deadlines_missed_by_sla": {"accept": 1},
    },
    "departments": [
        {
            "department": "生产厂",
            "complaints": 1,
            "by_cause": {"product_quality": 1},
            "by_responsibility": {"other_department": 1},
            "by_level": {"company": 1},
            "share": "1.000",
        }
    ],
    "months": None,
    "computed_at": "2026-12-08T01:00:00+00:00",
}
EXAMPLES["qa_center_assessments"] = {"response": [_ASSESSMENT]}
EXAMPLES["qa_record_region"] = {
    "request": {"competition": 80, "resources": 60, "note": "竞争激烈，备件库充足"},
    "response": {
        "tenant_id": "C01",
        "competition": 80,
        "resources": 60,
        "region_index": "70.0",
        "grade": "A",
        "note": "竞争激烈，备件库充足",
        "recorded_at": "2026-12-03T02:30:05+00:00",
        "recorded_by": "hq-admin",
    },
}
