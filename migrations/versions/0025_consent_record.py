"""users: the consent record (basis, note, review date, when and by whom it was recorded)

A face is special-category data: whoever runs facerec must be able to say on what basis it
holds each person's face (facerec.consent). People enrolled before have no record ("").

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 23:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs (no batch copy of the table: SQLite keeps its AUTOINCREMENT as is).
    op.add_column(
        'users', sa.Column('consent_basis', sa.String(length=20), server_default=sa.text("''"), nullable=False)
    )
    op.add_column(
        'users', sa.Column('consent_note', sa.Text(), server_default=sa.text("''"), nullable=False)
    )
    op.add_column('users', sa.Column('consent_expires', sa.Date(), nullable=True))
    op.add_column('users', sa.Column('consent_recorded_at', sa.DateTime(), nullable=True))
    op.add_column(
        'users', sa.Column('consent_recorded_by', sa.String(length=200), nullable=True)
    )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('consent_recorded_by')
        batch_op.drop_column('consent_recorded_at')
        batch_op.drop_column('consent_expires')
        batch_op.drop_column('consent_note')
        batch_op.drop_column('consent_basis')
