"""customers, customer_keys, installed_products: the customer and product archive (客户档案, 产品档案)

A customer per center with contacts, addresses, consent, external ids and the date it was last
reviewed (seed 001: updated once a year); its exact keys (unmasked phones, external ids) for
matching; its installed products by serial. Tickets get nullable links to both (existing tickets
stay unlinked).

Revision ID: f3b5d7e9a146
Revises: e7a1c3d5f024
Create Date: 2026-12-03 11:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f3b5d7e9a146"
down_revision: str | Sequence[str] | None = "e7a1c3d5f024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("company", sa.String(length=128), nullable=True),
        sa.Column("phones", sa.JSON(), nullable=False),
        sa.Column("email", sa.String(length=128), nullable=True),
        sa.Column("addresses", sa.JSON(), nullable=False),
        sa.Column("external_ids", sa.JSON(), nullable=False),
        sa.Column("consent_to_contact", sa.Boolean(), nullable=True),
        sa.Column("duplicate_of", sa.JSON(), nullable=True),
        sa.Column("duplicate_reason", sa.String(length=128), nullable=True),
        sa.Column("merged_into", sa.String(length=32), nullable=True),
        sa.Column("merged_by", sa.String(length=64), nullable=True),
        sa.Column("merged_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
    )
    op.create_index("ix_customers_tenant_id", "customers", ["tenant_id"])
    op.create_index("ix_customers_reviewed_on", "customers", ["reviewed_on"])
    op.create_table(
        "customer_keys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=32), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
    )
    op.create_index("ix_customer_keys_tenant_id", "customer_keys", ["tenant_id"])
    op.create_index("ix_customer_keys_customer_id", "customer_keys", ["customer_id"])
    op.create_index("ix_customer_key_lookup", "customer_keys", ["tenant_id", "kind", "value"])
    op.create_table(
        "installed_products",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=32), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("product_line", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("serial_no", sa.String(length=64), nullable=False),
        sa.Column("purchase_date", sa.Date(), nullable=True),
        sa.Column("installed_on", sa.Date(), nullable=True),
        sa.Column("warranty_until", sa.Date(), nullable=True),
        sa.Column("installed_by_outlet_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_installed_products_tenant_id", "installed_products", ["tenant_id"])
    op.create_index("ix_installed_products_customer_id", "installed_products", ["customer_id"])
    op.create_index("ix_product_serial", "installed_products", ["tenant_id", "serial_no"])
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_record_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("product_id", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_tickets_customer_record_id", ["customer_record_id"])
        batch_op.create_index("ix_tickets_product_id", ["product_id"])


def downgrade() -> None:
    # DROP COLUMN in place (see 8de405ba935e): the deadlines' and audit rows' foreign keys
    with op.batch_alter_table("tickets", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_tickets_product_id")
        batch_op.drop_index("ix_tickets_customer_record_id")
        batch_op.drop_column("product_id")
        batch_op.drop_column("customer_record_id")
    op.drop_table("installed_products")
    op.drop_table("customer_keys")
    op.drop_table("customers")
