"""leases: which replica does a singleton job (a timer, a re-plan) until when (shared.leases)

Revision ID: 6295c7f7ccd7
Revises: 24e145084a05
Create Date: 2026-12-02 22:00:00

"""
from typing import Sequence, Union

from shared.migrations import create_leases, drop_leases

revision: str = '6295c7f7ccd7'
down_revision: Union[str, Sequence[str], None] = '24e145084a05'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_leases()


def downgrade() -> None:
    drop_leases()
