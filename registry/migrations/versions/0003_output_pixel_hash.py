"""output pixel hash: lets a verifier recognise a re-encoded output

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outputs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pixel_sha256", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_outputs_pixel_sha256", ["pixel_sha256"])


def downgrade() -> None:
    with op.batch_alter_table("outputs", schema=None) as batch_op:
        batch_op.drop_index("ix_outputs_pixel_sha256")
        batch_op.drop_column("pixel_sha256")
