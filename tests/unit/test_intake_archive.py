"""The archive's matching: sure matches link, masked phones never match, doubt is not merged."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.intake import archive
from services.intake.archive import Known, match_customer
from shared.errors import Forbidden, ValidationFailed


def test_phone_key_cleans_numbers_and_refuses_masks():
    assert archive.phone_key("138 0000-1111") == "13800001111"
    assert archive.phone_key("+86 13800001111") == "13800001111"
    assert archive.phone_key("138****0000") is None
    assert archive.phone_key("138xxxx0000") is None
    assert archive.phone_key("") is None and archive.phone_key(None) is None


def test_exact_phone_and_same_name_links():
    found = [Known("cr1", "张三", None, "phone")]
    assert match_customer(" 张三", "某厂", found).customer_id == "cr1"


def test_external_id_links_even_with_another_name():
    assert match_customer("张三丰", None, [Known("cr1", "张三", None, "external_id")]).customer_id == "cr1"


def test_nothing_found_is_a_new_customer_not_flagged():
    m = match_customer("张三", None, [])
    assert m.customer_id is None and m.duplicate_of == () and m.reason is None


def test_same_phone_another_name_is_not_merged_but_flagged():
    m = match_customer("李四", None, [Known("cr1", "张三", None, "phone")])
    assert m.customer_id is None and m.duplicate_of == ("cr1",) and "name" in m.reason


def test_same_phone_another_company_is_not_merged_but_flagged():
    m = match_customer("张三", "乙公司", [Known("cr1", "张三", "甲公司", "phone")])
    assert m.customer_id is None and m.duplicate_of == ("cr1",) and "company" in m.reason


def test_two_candidates_are_not_merged():
    found = [Known("cr1", "张三", None, "phone"), Known("cr2", "张三", None, "external_id")]
    m = match_customer("张三", None, found)
    assert m.customer_id is None and m.duplicate_of == ("cr1", "cr2")
    same_name = [Known("cr1", "张三", None, "phone"), Known("cr2", "张三", None, "phone")]
    assert match_customer("张三", None, same_name).duplicate_of == ("cr1", "cr2")
    two_ids = [Known("cr1", "张三", None, "external_id"), Known("cr2", "李四", None, "external_id")]
    assert match_customer("张三", None, two_ids).customer_id is None


def test_a_phone_two_people_share_links_each_by_name():
    """Kept apart by a person (a family's phone): each later request goes to its own customer."""
    found = [Known("cr1", "张三", None, "phone"), Known("cr2", "李四", None, "phone")]
    assert match_customer("李四", None, found).customer_id == "cr2"
    m = match_customer("王五", None, found)
    assert m.customer_id is None and m.duplicate_of == ("cr1", "cr2")


def test_review_due_after_a_year():
    today = date(2026, 12, 3)
    assert archive.review_due(date(2025, 12, 3), today)
    assert not archive.review_due(date(2025, 12, 4), today)
    assert archive.review_due(None, today)


def test_contact_update_cleans_phones_marks_reviewed_and_names_a_bad_phone():
    today = date(2026, 12, 3)
    changes = archive.contact_update({"phones": ["138-0000-1111", "13800001111"], "email": None}, today)
    assert changes == {"phones": ["13800001111"], "email": None, "reviewed_on": today}  # null clears
    assert archive.contact_update({}, today) == {"reviewed_on": today}  # confirmed unchanged
    with pytest.raises(ValidationFailed) as err:
        archive.contact_update({"phones": ["138****1111"]}, today)
    assert "phones" in err.value.fields


def test_only_staff_read_and_centers_merge():
    archive.check_reader("center")
    with pytest.raises(Forbidden):
        archive.check_reader("outlet")
    with pytest.raises(Forbidden):
        archive.check_merger("service")
    with pytest.raises(ValidationFailed):
        archive.check_merge("cr1", "cr1", None, None)


def test_an_install_visit_dates_the_installation_in_beijing_and_names_the_outlet():
    late_evening_utc = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # 2 March in Beijing
    assert archive.installation("install", None, late_evening_utc, "O7") == {
        "installed_on": date(2026, 3, 2),
        "installed_by_outlet_id": "O7",
    }
    assert archive.installation("repair", None, late_evening_utc, "O7") == {}
    assert archive.installation("install", date(2025, 1, 1), late_evening_utc, "O7") == {}


def test_the_csv_import_carries_the_archive_keys():
    from services.intake.schemas import csv_row_to_payload

    row = {"customer_name": "张三", "company": " 甲公司 ", "customer_external_id": "CRM-7", "phone": "13800001111"}
    payload = csv_row_to_payload(row)
    assert (payload["company"], payload["customer_external_id"]) == ("甲公司", "CRM-7")


def test_only_a_flagged_customer_is_kept_apart():
    archive.check_flagged(["cr1"])
    with pytest.raises(ValidationFailed) as err:
        archive.check_flagged(None)
    assert "customer_id" in err.value.fields


def test_a_named_center_must_be_one_the_caller_sees():
    from shared.tenancy import Principal

    archive.check_center(Principal("hq", "hq"), "C02")
    archive.check_center(Principal("w", "center", tenant="C01"), "C01")
    archive.check_center(Principal("w", "center", tenant="C01"), None)
    with pytest.raises(Forbidden) as err:
        archive.check_center(Principal("w", "center", tenant="C01"), "C02")
    assert "tenant_id" in err.value.fields
