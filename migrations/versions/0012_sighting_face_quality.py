"""sightings keep their face's quality (height, sharpness, turn), in the members' index too

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 20:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

OLD = ['user_id', 'group_id', 'frames', 'started_at']
NEW = OLD + ['face_height', 'sharpness', 'turn']


def upgrade():
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('face_height', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sharpness', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('turn', sa.Float(), nullable=True))
        batch_op.drop_index('ix_sightings_unknown_members')
        batch_op.create_index('ix_sightings_unknown_members', NEW, unique=False)


def downgrade():
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.drop_index('ix_sightings_unknown_members')
        batch_op.create_index('ix_sightings_unknown_members', OLD, unique=False)
        batch_op.drop_column('turn')
        batch_op.drop_column('sharpness')
        batch_op.drop_column('face_height')
