"""users.name_key: NFKC-normalised and case-folded, so look-alike names share one key

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 20:00:00

"""
import logging
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
users = sa.table(
    'users', sa.column('id', sa.Integer), sa.column('name', sa.String), sa.column('name_key', sa.String)
)


def key(name):
    """models.name_key as of this revision (written out: a migration must not change later)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())


def old_key(name):
    return " ".join(name.split()).casefold()


def _rekey(compute):
    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.id, users.c.name, users.c.name_key).order_by(users.c.id)).all()
    taken = {row.name_key for row in rows}
    for row in rows:
        new = compute(row.name)
        if new == row.name_key:
            continue
        if new in taken:
            # Two people whose names were told apart before and look alike now: the older
            # keeps the key, this one keeps its old key (nothing is lost; renaming it works).
            log.warning("person %s: the name %r looks like another's; its key is kept", row.id, row.name)
            continue
        taken.discard(row.name_key)
        taken.add(new)
        conn.execute(sa.update(users).where(users.c.id == row.id).values(name_key=new))


def upgrade():
    _rekey(key)


def downgrade():
    _rekey(old_key)
