"""cameras belong to a server (several servers on one database)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 06:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # Cameras stored so far belong to the unnamed server (FACEREC_SERVER unset); the
    # default only fills them in: new rows always name their server.
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.add_column(sa.Column('server', sa.String(length=64), server_default='', nullable=False))
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.alter_column('server', existing_type=sa.String(length=64), server_default=None)
        batch_op.create_index(batch_op.f('ix_cameras_server'), ['server'], unique=False)


def downgrade():
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cameras_server'))
        batch_op.drop_column('server')
