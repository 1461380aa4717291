"""leases: which replica does a singleton job (a timer, a re-plan) until when (shared.leases)

Revision ID: 9e0986eea78a
Revises: 66a89f2640e2
Create Date: 2026-12-02 22:00:00

"""
from typing import Sequence, Union

from shared.migrations import create_leases, drop_leases

revision: str = '9e0986eea78a'
down_revision: Union[str, Sequence[str], None] = '66a89f2640e2'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_leases()


def downgrade() -> None:
    drop_leases()
