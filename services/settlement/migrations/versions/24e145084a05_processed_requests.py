"""processed_requests: RPC requests carried out, for exactly-once effects

Revision ID: 24e145084a05
Revises: d917a3dc668c
Create Date: 2026-12-02 21:10:00

"""
from typing import Sequence, Union

from shared.migrations import create_processed_requests, drop_processed_requests

revision: str = '24e145084a05'
down_revision: Union[str, Sequence[str], None] = 'd917a3dc668c'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_processed_requests()


def downgrade() -> None:
    drop_processed_requests()
