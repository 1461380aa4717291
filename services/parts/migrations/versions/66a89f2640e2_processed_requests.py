"""processed_requests: RPC requests carried out, for exactly-once effects

Revision ID: 66a89f2640e2
Revises: 39355cec50e4
Create Date: 2026-12-02 21:10:00

"""
from typing import Sequence, Union

from shared.migrations import create_processed_requests, drop_processed_requests

revision: str = '66a89f2640e2'
down_revision: Union[str, Sequence[str], None] = '39355cec50e4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_processed_requests()


def downgrade() -> None:
    drop_processed_requests()
