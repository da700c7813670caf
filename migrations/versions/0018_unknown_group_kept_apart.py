"""unknown groups an operator merged or split are kept apart from automatic merging

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 21:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('unknown_groups', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('kept_apart', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('unknown_groups', schema=None) as batch_op:
        batch_op.drop_column('kept_apart')
