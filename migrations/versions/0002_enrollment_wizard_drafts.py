"""enrollment wizard drafts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 12:18:42.981289

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('enroll_drafts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_enroll_drafts_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enroll_drafts'))
    )
    with op.batch_alter_table('enroll_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enroll_drafts_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enroll_drafts_expires_at'), ['expires_at'], unique=False)

    op.create_table('enroll_draft_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.String(length=64), nullable=False),
    sa.Column('encoding', sa.LargeBinary(), nullable=False),
    sa.Column('thumbnail', sa.LargeBinary(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['enroll_drafts.id'], name=op.f('fk_enroll_draft_samples_draft_id_enroll_drafts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enroll_draft_samples'))
    )
    with op.batch_alter_table('enroll_draft_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enroll_draft_samples_draft_id'), ['draft_id'], unique=False)



def downgrade():
    with op.batch_alter_table('enroll_draft_samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enroll_draft_samples_draft_id'))

    op.drop_table('enroll_draft_samples')
    with op.batch_alter_table('enroll_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enroll_drafts_expires_at'))
        batch_op.drop_index(batch_op.f('ix_enroll_drafts_account_id'))

    op.drop_table('enroll_drafts')
