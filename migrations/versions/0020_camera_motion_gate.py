"""cameras: a camera's own motion gate, motion area and re-check interval

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 22:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    # Empty for every camera stored so far: the server's settings apply, as before.
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.add_column(sa.Column('motion_gate', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('motion_area', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('recheck_interval', sa.Float(), nullable=True))


def downgrade():
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.drop_column('recheck_interval')
        batch_op.drop_column('motion_area')
        batch_op.drop_column('motion_gate')
