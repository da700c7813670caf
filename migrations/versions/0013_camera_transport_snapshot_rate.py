"""cameras: RTSP transport (tcp/udp) and a snapshot camera's rate

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 19:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    # Cameras stored so far keep what they had: RTSP over TCP (FFmpeg's choice through
    # OpenCV's prefer_tcp) and the default snapshot rate.
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transport', sa.String(length=8), server_default='tcp', nullable=False))
        batch_op.add_column(sa.Column('snapshot_rate', sa.Float(), nullable=True))
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.alter_column('transport', existing_type=sa.String(length=8), server_default=None)


def downgrade():
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.drop_column('snapshot_rate')
        batch_op.drop_column('transport')
