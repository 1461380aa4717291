"""shared.db tenant scoping, straight on a SQLite engine (no nameko): the session adds the
tenant criteria to every ORM SELECT / UPDATE / DELETE and checks every flushed row."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select, update

from services.intake.models import Base, SlaDeadline, Ticket
from shared.db import Store
from shared.errors import TenancyViolation
from shared.tenancy import Principal

HQ = Principal("hq", "hq")
C01 = Principal("wuhan", "center", tenant="C01")
C02 = Principal("jinan", "center", tenant="C02")


def _ticket(tenant, **kw):
    now = datetime.now(UTC)
    row = dict(
        id=uuid.uuid4().hex,
        number=uuid.uuid4().hex[:20],
        tenant_id=tenant,
        kind="repair",
        channel="web",
        status="registered",
        priority=3,
        customer_id="cu_a",
        customer_name="客户",
        phone="12345678",
        address="湖北省武汉市",
        warranty="unknown",
        owner_user="u",
        received_at=now,
        registered_at=now,
    )
    row.update(kw)
    return Ticket(**row)


@pytest.fixture
def store(tmp_path):
    store = Store("intake", f"sqlite:///{tmp_path}/scope.db", Base.metadata)
    store.create_schema()
    with store.session(HQ) as s:
        s.add_all(
            [
                _ticket("C01", customer_id="cu_1", assigned_outlet_id="C01-O01"),
                _ticket("C01", customer_id="cu_2"),
                _ticket("C02", customer_id="cu_1"),
                _ticket("C02", customer_id="cu_3"),
            ]
        )
        s.commit()
    yield store
    store.dispose()


def _all(store):
    with store.session(HQ) as s:
        return sorted(s.execute(select(Ticket.tenant_id, Ticket.status)).all())


def test_unfiltered_select_returns_own_tenant_only(store):
    with store.session(C01) as s:
        rows = s.scalars(select(Ticket)).all()
        assert len(rows) == 2 and {t.tenant_id for t in rows} == {"C01"}
        assert s.scalar(select(func.count(Ticket.id))) == 2
    with store.session(C02) as s:
        assert {t.tenant_id for t in s.scalars(select(Ticket))} == {"C02"}
    with store.session(HQ) as s:
        assert len(s.scalars(select(Ticket)).all()) == 4


def test_count_queries_are_scoped(store):
    """Counting over the entity or over a subquery of it must not reveal other tenants' rows
    (the service's list total is such a count)."""
    with store.session(C01) as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 2
        assert s.scalar(select(func.count()).select_from(select(Ticket).subquery())) == 2


def test_get_of_other_tenant_row_is_none(store):
    with store.session(HQ) as s:
        other = s.scalars(select(Ticket).where(Ticket.tenant_id == "C02")).first().id
    with store.session(C01) as s:
        assert s.get(Ticket, other) is None


def test_outlet_and_customer_narrowing(store):
    outlet = Principal("o1", "outlet", tenant="C01", outlet="C01-O01")
    with store.session(outlet) as s:
        rows = s.scalars(select(Ticket)).all()
        assert [t.assigned_outlet_id for t in rows] == ["C01-O01"]
    customer = Principal("c1", "customer", tenant="C01", customer="cu_1")
    with store.session(customer) as s:
        rows = s.scalars(select(Ticket)).all()
        assert [(t.tenant_id, t.customer_id) for t in rows] == [("C01", "cu_1")]


def test_update_without_where_touches_own_tenant_only(store):
    with store.session(C01) as s:
        result = s.execute(update(Ticket).values(status="closed"))
        s.commit()
        assert result.rowcount == 2
    assert _all(store) == [("C01", "closed"), ("C01", "closed"), ("C02", "registered"), ("C02", "registered")]


def test_delete_without_where_touches_own_tenant_only(store):
    with store.session(C02) as s:
        result = s.execute(delete(Ticket))
        s.commit()
        assert result.rowcount == 2
    assert _all(store) == [("C01", "registered"), ("C01", "registered")]


def test_session_without_principal_is_refused(store):
    session = store.sessions()
    try:
        with pytest.raises(TenancyViolation):
            session.scalars(select(Ticket)).all()
        with pytest.raises(TenancyViolation):
            session.execute(update(Ticket).values(status="closed"))
        session.rollback()
        session.add(_ticket("C01"))
        with pytest.raises(TenancyViolation):
            session.flush()
    finally:
        session.rollback()
        session.close()
    assert len(_all(store)) == 4


def test_center_cannot_write_other_tenant(store):
    with store.session(C01) as s:
        s.add(_ticket("C02"))
        with pytest.raises(TenancyViolation):
            s.flush()
        s.rollback()
    with store.session(C01) as s:
        ticket = s.scalars(select(Ticket)).first()
        ticket.tenant_id = "C02"
        with pytest.raises(TenancyViolation):
            s.flush()
        s.rollback()
    with store.session(C01) as s:
        s.add(SlaDeadline(tenant_id="C02", ticket_id=uuid.uuid4().hex, sla="accept", due_at=datetime.now(UTC)))
        with pytest.raises(TenancyViolation):
            s.flush()
        s.rollback()
    assert _all(store) == [("C01", "registered"), ("C01", "registered"), ("C02", "registered"), ("C02", "registered")]


def test_center_new_row_gets_its_tenant(store):
    with store.session(C01) as s:
        s.add(_ticket(None))
        s.commit()
    assert [r for r in _all(store) if r[0] == "C01"].__len__() == 3


def test_within_tenant_narrows_hq_to_one_center_for_a_while(store):
    from shared.db import within_tenant

    with store.session(HQ) as s:
        with within_tenant(s, "C02"):
            assert {t.tenant_id for t in s.scalars(select(Ticket))} == {"C02"}
            s.add(_ticket("C01"))
            with pytest.raises(TenancyViolation):
                s.flush()  # another center's row, while acting inside C02
        s.rollback()
        assert len(s.scalars(select(Ticket)).all()) == 4  # HQ again afterwards
    with store.session(C01) as s:
        with within_tenant(s, "C01"):
            assert {t.tenant_id for t in s.scalars(select(Ticket))} == {"C01"}
        with pytest.raises(TenancyViolation):
            with within_tenant(s, "C02"):
                pass
