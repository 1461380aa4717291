"""processed_requests: RPC requests carried out, for exactly-once effects

Revision ID: 636a74742763
Revises: f3b3a33ba2e0
Create Date: 2026-12-02 21:10:00

"""
from typing import Sequence, Union

from shared.migrations import create_processed_requests, drop_processed_requests

revision: str = '636a74742763'
down_revision: Union[str, Sequence[str], None] = 'f3b3a33ba2e0'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_processed_requests()


def downgrade() -> None:
    drop_processed_requests()
