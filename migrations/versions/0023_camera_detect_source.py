"""cameras: a detection sub-stream (a second, smaller URL of the same scene)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 22:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.add_column(sa.Column('detect_source', sa.String(length=2000), nullable=True))


def downgrade():
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.drop_column('detect_source')
