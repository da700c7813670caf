"""Keyset paging, shared by the lists read newest first a page at a time (the history, the
audit): a page is the rows below a ``before_id``, so pages stay put while new rows arrive."""

from __future__ import annotations

from .extensions import db

STREAM_CHUNK = 500  # rows fetched at a time by a streamed export


class NewestFirstPages:
    """For a filter with ``statement()`` (its rows, newest id first, below its ``before_id``)
    and ``limit``: one page of it, or all of it streamed."""

    limit: int

    def page(self) -> tuple[list, int | None]:
        """One page of rows, newest first, and the ``before_id`` of the next page."""
        rows = db.session.scalars(self.statement().limit(self.limit + 1)).all()
        more = len(rows) > self.limit
        rows = rows[: self.limit]
        return rows, (rows[-1].id if more and rows else None)

    def all(self):
        """Every matching row, newest first, streamed (the CSV exports); close it (``with``)
        when not read to the end: on PostgreSQL it holds a server-side cursor."""
        return db.session.scalars(self.statement().execution_options(yield_per=STREAM_CHUNK))
