"""processed_requests: RPC requests carried out, for exactly-once effects

Revision ID: cb1d6807f0cc
Revises: 3b8265d5318c
Create Date: 2026-12-02 21:10:00

"""
from typing import Sequence, Union

from shared.migrations import create_processed_requests, drop_processed_requests

revision: str = 'cb1d6807f0cc'
down_revision: Union[str, Sequence[str], None] = '3b8265d5318c'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_processed_requests()


def downgrade() -> None:
    drop_processed_requests()
