"""The CSV files facerec writes (the history, the audit trail, a person's export): one rule for
what a cell holds, and one way to send a long table a row at a time."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager

from flask import Response, stream_with_context

# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...)):
# what a name or a note says must never run.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """A CSV cell: None is empty, an object or a list its JSON, and text a spreadsheet would
    run as a formula is made plain text (a leading quote); numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def table(columns: Iterable[str], rows: Iterable[Mapping]) -> str:
    """A whole CSV: the header, then a line per row (a dict with a key per column)."""
    columns = tuple(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(cell(row[column]) for column in columns)
    return buffer.getvalue()


def download(
    filename: str,
    columns: Iterable[str],
    rows: Callable[[], AbstractContextManager[Iterable]],
    values: Callable[[object], Mapping],
    problem: str | None = None,
) -> Response:
    """A CSV download written a row at a time, so that a long table never sits in memory:
    ``rows()`` opens the rows once the download starts (a query's server-side cursor),
    ``values(row)`` is a row's dict with a key per column. With ``problem`` (what is wrong
    with the filters asked for), a 422 saying it, in plain text, instead of a file."""
    if problem:
        return Response(problem + "\n", status=422, mimetype="text/plain")
    columns = tuple(columns)

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)

        def taken() -> str:
            text = buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            return text

        writer.writerow(columns)
        yield taken()
        # Closed on the way out: a download cut short (the client went away) leaves the
        # generator at a yield, and PostgreSQL's server-side cursor must not wait for the
        # garbage collector.
        with rows() as opened:
            for row in opened:
                data = values(row)
                writer.writerow(cell(data[column]) for column in columns)
                yield taken()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
