"""grouping version for the in-memory group index; the unknown members' covering index

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 19:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('grouping_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grouping_state'))
    )
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.create_index(
            'ix_sightings_unknown_members', ['user_id', 'group_id', 'frames', 'started_at'],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.drop_index('ix_sightings_unknown_members')
    op.drop_table('grouping_state')
