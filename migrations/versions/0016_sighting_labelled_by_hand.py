"""sightings.labelled_by_hand: a sighting whose person someone said by hand

The history then says "labelled by hand" instead of calling the recognition's distance a
match (it was measured against whoever recognition named, not the person given by hand).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('labelled_by_hand', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.drop_column('labelled_by_hand')
