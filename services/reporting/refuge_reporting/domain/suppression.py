"""Small-cell suppression of a published table, with complementary suppression. Pure.

A table is rows × columns of counts with its margins: row totals (when there are several
columns), column totals (when there are several rows) and the grand total. Every published
figure is a linear form over the interior cells. Primary suppression hides every figure
(cell or total) with 0 < value < threshold; zeros single no one out and stay. Then, while
some hidden figure is still determined by the published ones (its form lies in the span of
the published forms: someone could recompute it exactly from the row and column totals and
the other cells), one more figure is hidden, the smallest in the same rows or columns first.
Each round hides one more figure, so it ends; hiding everything is always safe.

The span test is exact (rational Gaussian elimination): no linear-algebra library is
installed, and float rank is not a proof.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

Vector = dict[int, Fraction]


@dataclass(frozen=True)
class Figure:
    """One published number: an interior cell, a margin or the grand total."""

    kind: str  # "cell", "row_total", "column_total", "total"
    row: int | None
    column: int | None
    value: int
    form: frozenset[int]  # the interior cells (row * columns + column) it sums


@dataclass(frozen=True)
class Suppressed:
    figures: tuple[Figure, ...]
    hidden: frozenset[int]  # indexes into figures

    def is_hidden(self, kind: str, row: int | None = None, column: int | None = None) -> bool:
        return any(
            (f.kind, f.row, f.column) == (kind, row, column)
            for i, f in enumerate(self.figures)
            if i in self.hidden
        )


def figures_of(table: Sequence[Sequence[int]]) -> list[Figure]:
    rows = len(table)
    columns = len(table[0]) if rows else 0
    if any(len(line) != columns for line in table):
        raise ValueError("every row of a table has the same number of columns")
    found = [
        Figure("cell", r, c, table[r][c], frozenset({r * columns + c}))
        for r in range(rows)
        for c in range(columns)
    ]
    if columns > 1:
        found += [
            Figure("row_total", r, None, sum(table[r]), frozenset(r * columns + c for c in range(columns)))
            for r in range(rows)
        ]
    if rows > 1:
        found += [
            Figure(
                "column_total",
                None,
                c,
                sum(table[r][c] for r in range(rows)),
                frozenset(r * columns + c for r in range(rows)),
            )
            for c in range(columns)
        ]
    if rows and columns:
        found.append(Figure("total", None, None, sum(map(sum, table)), frozenset(range(rows * columns))))
    return found


def suppress(table: Sequence[Sequence[int]], threshold: int) -> Suppressed:
    figures = figures_of(table)
    hidden = {i for i, f in enumerate(figures) if 0 < f.value < threshold}
    while True:
        exposed = _determined(figures, hidden)
        if exposed is None:
            return Suppressed(tuple(figures), frozenset(hidden))
        closing = _close_lonely_line(figures, hidden)
        hidden.add(closing if closing is not None else _complement_for(figures, hidden, figures[exposed]))


def _close_lonely_line(figures: list[Figure], hidden: set[int]) -> int | None:
    """The obvious leak first: a row or column whose total is published and which hides one
    cell only. Hide the published cell of such a line that closes the most of them at once,
    the smallest first."""

    cells = {(f.row, f.column): i for i, f in enumerate(figures) if f.kind == "cell"}
    totals_published = {
        (f.row, f.column) for i, f in enumerate(figures) if f.kind.endswith("_total") and i not in hidden
    }
    hidden_in: dict[tuple[int | None, int | None], int] = {}
    for (row, column), i in cells.items():
        if i in hidden:
            hidden_in[(row, None)] = hidden_in.get((row, None), 0) + 1
            hidden_in[(None, column)] = hidden_in.get((None, column), 0) + 1
    lonely = {line for line, count in hidden_in.items() if count == 1 and line in totals_published}
    if not lonely:
        return None
    best: tuple[tuple[int, bool, int], int] | None = None
    for (row, column), i in cells.items():
        if i in hidden:
            continue
        closes = ((row, None) in lonely) + ((None, column) in lonely)
        if closes:
            score = (-closes, figures[i].value == 0, figures[i].value)
            if best is None or score < best[0]:
                best = (score, i)
    return best[1] if best else None


def _determined(figures: list[Figure], hidden: set[int]) -> int | None:
    """A hidden figure that the published ones determine, if any."""

    basis = _Basis()
    for i, figure in enumerate(figures):
        if i not in hidden:
            basis.add(figure.form)
    for i in sorted(hidden):
        if basis.spans(figures[i].form):
            return i
    return None


def _complement_for(figures: list[Figure], hidden: set[int], exposed: Figure) -> int:
    """The published figure to hide so that ``exposed`` is no longer determined: a cell in
    the same rows or columns (smallest non-zero first), else a margin over the same cells."""

    columns = 1 + max((f.column for f in figures if f.kind == "cell" and f.column is not None), default=0)
    lines = {(cell // columns, None) for cell in exposed.form} | {
        (None, cell % columns) for cell in exposed.form
    }
    published = [i for i in range(len(figures)) if i not in hidden]
    near = [
        i
        for i in published
        if figures[i].kind == "cell"
        and ((figures[i].row, None) in lines or (None, figures[i].column) in lines)
    ]
    if not near:
        near = [i for i in published if figures[i].form & exposed.form]
    if not near:
        near = published
    return min(near, key=lambda i: (figures[i].value == 0, figures[i].value, i))


class _Basis:
    """Row-echelon basis of the published forms, for exact span tests."""

    def __init__(self) -> None:
        self._rows: dict[int, Vector] = {}  # pivot -> row with 1 at the pivot

    def _reduce(self, form: frozenset[int]) -> Vector:
        vector: Vector = {i: Fraction(1) for i in form}
        while vector:
            pivot = min(vector)
            row = self._rows.get(pivot)
            if row is None:
                return vector
            factor = vector[pivot]
            for column, value in row.items():
                updated = vector.get(column, Fraction(0)) - factor * value
                if updated:
                    vector[column] = updated
                else:
                    vector.pop(column, None)
        return vector

    def add(self, form: frozenset[int]) -> None:
        remainder = self._reduce(form)
        if remainder:
            pivot = min(remainder)
            scale = remainder[pivot]
            self._rows[pivot] = {column: value / scale for column, value in remainder.items()}

    def spans(self, form: frozenset[int]) -> bool:
        return not self._reduce(form)
