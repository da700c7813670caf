"""the wizard's draft keeps the person's fields as one JSON object

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 19:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

drafts = sa.table(
    'enroll_drafts',
    sa.column('id', sa.String),
    sa.column('name', sa.String),
    sa.column('details', sa.Text),
    sa.column('person', sa.JSON),
)


def upgrade():
    with op.batch_alter_table('enroll_drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person', sa.JSON(), nullable=True))
    connection = op.get_bind()
    # A wizard in progress keeps what was typed.
    for draft_id, name, details in connection.execute(
        sa.select(drafts.c.id, drafts.c.name, drafts.c.details)
    ).all():
        connection.execute(
            drafts.update()
            .where(drafts.c.id == draft_id)
            .values(person={'name': name or '', 'details': details or ''})
        )
    with op.batch_alter_table('enroll_drafts', schema=None) as batch_op:
        batch_op.alter_column('person', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('details')
        batch_op.drop_column('name')


def downgrade():
    with op.batch_alter_table('enroll_drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('details', sa.Text(), nullable=True))
    connection = op.get_bind()
    for draft_id, person in connection.execute(sa.select(drafts.c.id, drafts.c.person)).all():
        person = person or {}
        connection.execute(
            drafts.update()
            .where(drafts.c.id == draft_id)
            .values(name=person.get('name', ''), details=person.get('details', ''))
        )
    with op.batch_alter_table('enroll_drafts', schema=None) as batch_op:
        batch_op.alter_column('name', existing_type=sa.String(length=100), nullable=False)
        batch_op.alter_column('details', existing_type=sa.Text(), nullable=False)
        batch_op.drop_column('person')
