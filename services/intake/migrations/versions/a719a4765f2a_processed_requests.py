"""processed_requests: RPC requests carried out, for exactly-once effects

Revision ID: a719a4765f2a
Revises: 7db9cc50bdd3
Create Date: 2026-12-02 21:10:00

"""
from typing import Sequence, Union

from shared.migrations import create_processed_requests, drop_processed_requests

revision: str = 'a719a4765f2a'
down_revision: Union[str, Sequence[str], None] = '7db9cc50bdd3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_processed_requests()


def downgrade() -> None:
    drop_processed_requests()
