"""Pure rules of the reports (RPT-1, PRV-AGG-1): plain values in and out, no ORM.

- `validate_range`, `parse_groups`, `parse_k`, `parse_epsilon`: what a report
  request may ask for (bad input raises core.errors.InvalidInput);
- `period_label`: how a day, week, month or year is written;
- `Table` and `build_table`: the rows a report shows, with its margins;
- `publication_form`: small-cell suppression with complementary suppression
  (PRV-AGG-1) and optional Laplace noise;
- `line_chart` / `bar_chart`: the geometry of the server-drawn SVG charts.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from quietshelf.core.errors import InvalidInput

# A report covers at most this many days: ten years of statistics is a long
# trend; a hundred years is a typing error (and a full scan for nothing).
MAX_SPAN_DAYS = 3653
# Grouping by day is for ranges up to a year (a longer one is a wall of rows).
MAX_DAY_PERIOD_SPAN = 366
# A table larger than this is not read by anyone: the request must be coarser.
MAX_ROWS = 20_000
DEFAULT_K = 5
MIN_K = 2
MAX_K = 1000
MAX_EPSILON = 100.0

PERIODS = ("day", "week", "month", "year")

# What a suppressed cell shows: "<k" for a cell under k (primary), "x" for a
# cell hidden so that a total cannot give a small one away (complementary).
MARK_PRIMARY = "primary"
MARK_COMPLEMENTARY = "complementary"


# --- request validation ------------------------------------------------------------------


def parse_date(value: str | dt.date | None, *, what: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput(
            f"The {what} date must be written as YYYY-MM-DD.", code="invalid_date"
        ) from None


def default_range(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last twelve whole months and this month so far."""
    first = today.replace(day=1)
    year, month = first.year, first.month - 11
    if month < 1:
        year, month = year - 1, month + 12
    return dt.date(year, month, 1), today


def validate_range(start: dt.date, end: dt.date, *, period: str | None = None) -> None:
    if end < start:
        raise InvalidInput("The date range ends before it starts.", code="invalid_range")
    span = (end - start).days + 1
    if span > MAX_SPAN_DAYS:
        raise InvalidInput(
            f"A report covers at most {MAX_SPAN_DAYS} days (ten years); choose a shorter range.",
            code="range_too_long",
        )
    if period == "day" and span > MAX_DAY_PERIOD_SPAN:
        raise InvalidInput(
            "Grouping by day is for ranges up to a year; group by week or month.",
            code="range_too_long",
        )


def parse_period(value: str | None, *, allowed: Sequence[str] = PERIODS) -> str | None:
    if value in (None, "", "none"):
        return None
    if value not in allowed:
        raise InvalidInput(
            f"Unknown period {str(value)[:40]!r}; use one of: {', '.join(allowed)}.",
            code="unknown_grouping",
        )
    return value


def parse_groups(values: Iterable[str], *, allowed: Sequence[str]) -> list[str]:
    """The grouping dimensions asked for, in order, each once; unknown ones refused."""
    out: list[str] = []
    for raw in values:
        for value in str(raw).split(","):
            value = value.strip()
            if not value:
                continue
            if value not in allowed:
                raise InvalidInput(
                    f"Unknown grouping {value[:40]!r}; use one of: {', '.join(allowed)}.",
                    code="unknown_grouping",
                )
            if value not in out:
                out.append(value)
    return out


def parse_k(value) -> int:
    if value is None or value == "":
        return DEFAULT_K
    try:
        k = int(str(value).strip())
    except ValueError:
        raise InvalidInput("k must be a whole number.", code="invalid_k") from None
    if k < MIN_K:
        raise InvalidInput(
            f"k must be at least {MIN_K}: with k = 1 nothing is suppressed.", code="invalid_k"
        )
    if k > MAX_K:
        raise InvalidInput(f"k must be at most {MAX_K}.", code="invalid_k")
    return k


def parse_epsilon(value) -> float | None:
    """ε of the Laplace noise; None (or empty): no noise."""
    if value is None or value == "":
        return None
    try:
        eps = float(str(value).strip())
    except ValueError:
        raise InvalidInput("ε must be a number greater than 0.", code="invalid_epsilon") from None
    if not math.isfinite(eps) or eps <= 0:
        raise InvalidInput("ε must be a number greater than 0.", code="invalid_epsilon")
    if eps > MAX_EPSILON:
        raise InvalidInput(f"ε must be at most {MAX_EPSILON:g}.", code="invalid_epsilon")
    return eps


# --- periods -----------------------------------------------------------------------------


def period_start(day: dt.date, period: str) -> dt.date:
    """The first day of the period holding `day` (weeks start on Monday, ISO 8601)."""
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    raise ValueError(period)


def period_label(start: dt.date, period: str) -> str:
    """2026-03-05, 2026-W10, 2026-03 or 2026: sorts as text in time order."""
    if period == "day":
        return start.isoformat()
    if period == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{start.year}-{start.month:02d}"
    if period == "year":
        return f"{start.year}"
    raise ValueError(period)


def periods_between(start: dt.date, end: dt.date, period: str) -> list[dt.date]:
    """Every period start from the one holding `start` to the one holding `end`."""
    out = []
    current = period_start(start, period)
    while current <= end:
        out.append(current)
        if period == "day":
            current += dt.timedelta(days=1)
        elif period == "week":
            current += dt.timedelta(days=7)
        elif period == "month":
            current = (current.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        else:
            current = current.replace(year=current.year + 1)
    return out


# --- tables ------------------------------------------------------------------------------


@dataclass
class Table:
    """What a report shows: one row per combination of the grouping keys.

    `values[i]` is measure i; `counts[i]` is how many facts (loans, payments,
    patrons) made it, which is what small-cell suppression looks at (for a
    count it is the value itself; for an amount of money, the number of
    payments summed). `marks` is filled in by publication_form.
    """

    dims: tuple[str, ...]
    measures: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)
    totals: list[Row] = field(default_factory=list)  # margins, then the grand total
    published: bool = False
    k: int | None = None
    epsilon: float | None = None

    def grand_total(self) -> Row:
        return self.totals[-1]


@dataclass
class Row:
    keys: tuple[str, ...]  # one label per dimension; "" in a margin's other places
    values: list[int]
    counts: list[int]
    marks: list[str] = field(default_factory=list)  # per measure: "", primary, complementary
    margin: int | None = None  # the dimension this total is a margin of; None: a grand total

    def shown(self, i: int) -> int | None:
        """The value as published (None when suppressed)."""
        return None if self.marks and self.marks[i] else self.values[i]


def build_table(
    dims: Sequence[str],
    measures: Sequence[str],
    facts: Iterable[tuple[tuple[str, ...], Sequence[int], Sequence[int] | None]],
    *,
    fill: Sequence[Sequence[str]] | None = None,
) -> Table:
    """A table from (keys, values, counts) facts; equal keys are added together.

    `fill` lists, per dimension, the keys to show even when nothing happened
    (the periods of the range), so a line over time has its zero months.
    Margins per value of each dimension (when there are two dimensions or
    more) and a grand total follow the rows.
    """
    width = len(measures)
    cells: dict[tuple[str, ...], Row] = {}
    for keys, values, counts in facts:
        keys = tuple(keys)
        if len(keys) != len(dims):
            raise ValueError("a fact's keys must match the dimensions")
        counts = values if counts is None else counts
        row = cells.get(keys)
        if row is None:
            row = cells[keys] = Row(keys, [0] * width, [0] * width)
        for i in range(width):
            row.values[i] += int(values[i])
            row.counts[i] += int(counts[i])
    if fill and len(dims) == 1:
        for key in fill[0]:
            cells.setdefault((key,), Row((key,), [0] * width, [0] * width))
    if len(cells) > MAX_ROWS:
        raise InvalidInput(
            f"The report would have more than {MAX_ROWS} rows; group by fewer things or a "
            "longer period.",
            code="too_many_rows",
        )
    table = Table(tuple(dims), tuple(measures), sorted(cells.values(), key=lambda r: r.keys))
    table.totals = _margins(table)
    return table


def _margins(table: Table) -> list[Row]:
    width = len(table.measures)
    out: list[Row] = []
    if len(table.dims) >= 2:
        for d in range(len(table.dims)):
            margin: dict[str, Row] = {}
            for row in table.rows:
                key = row.keys[d]
                m = margin.get(key)
                if m is None:
                    keys = tuple(key if j == d else "" for j in range(len(table.dims)))
                    m = margin[key] = Row(keys, [0] * width, [0] * width, margin=d)
                for i in range(width):
                    m.values[i] += row.values[i]
                    m.counts[i] += row.counts[i]
            out.extend(sorted(margin.values(), key=lambda r: r.keys[d]))
    grand = Row(tuple("" for _ in table.dims), [0] * width, [0] * width)
    for row in table.rows:
        for i in range(width):
            grand.values[i] += row.values[i]
            grand.counts[i] += row.counts[i]
    out.append(grand)
    return out


def series(table: Table, dim: int, measure: int) -> list[tuple[str, int | None]]:
    """(key, value) per value of one dimension: its margin (or the rows, with one
    dimension); None where the published form suppresses it."""
    if len(table.dims) == 1:
        rows = table.rows
    else:
        rows = [r for r in table.totals if r.margin == dim]
    return [(r.keys[dim], r.shown(measure)) for r in rows]


# --- the publication form (PRV-AGG-1) ----------------------------------------------------


def laplace(rng: random.Random, scale: float) -> float:
    """One draw of Laplace(0, scale): the difference of two exponential draws."""
    return rng.expovariate(1 / scale) - rng.expovariate(1 / scale)


def add_noise(table: Table, *, epsilon: float, rng: random.Random, noisy: Sequence[bool]) -> None:
    """Laplace noise of scale 1/ε on every row's counts, rounded, never below zero.

    One fact changes one cell of a count by one (sensitivity 1), so each
    published cell is ε-differentially private about a single loan or search.
    The margins are then the sums of the noisy rows (post-processing: no
    further privacy cost, and the table adds up). Measures that are not
    counts (amounts of money) take no noise: `noisy[i]` is False for them.
    """
    scale = 1 / epsilon
    for row in table.rows:
        for i, is_count in enumerate(noisy):
            if is_count:
                row.values[i] = max(0, round(row.values[i] + laplace(rng, scale)))
                row.counts[i] = row.values[i]
    table.totals = _margins(table)
    table.epsilon = epsilon


def _constraints(table: Table) -> list[list[Row]]:
    """Groups [total, members...] where the total is published as the sum of the members."""
    groups: list[list[Row]] = []
    grand = table.totals[-1]
    if len(table.dims) == 0:
        return groups
    if len(table.dims) == 1:
        return [[grand, *table.rows]]
    for d in range(len(table.dims)):
        margins = [r for r in table.totals if r.margin == d]
        groups.append([grand, *margins])
        for m in margins:
            groups.append([m, *(r for r in table.rows if r.keys[d] == m.keys[d])])
    return groups


def suppress(table: Table, *, k: int) -> None:
    """Small-cell suppression with complementary suppression, measure by measure.

    Primary: a cell (row or total) made of 1..k-1 facts is hidden ("<k").
    Complementary: wherever a published total is the sum of cells of which
    exactly one is hidden, it could be worked out by subtraction; so the
    smallest other member is hidden too ("x"), or the total itself if there is
    no other member, until no sum has exactly one hidden part. This guards
    against differencing along every published sum (rows, margins, grand
    total); it is the usual statistical-office method, not a guarantee
    against solving the whole table as a system of equations, which is what
    the noise is for.
    """
    if k < MIN_K:
        raise InvalidInput(f"k must be at least {MIN_K}.", code="invalid_k")
    everything = [*table.rows, *table.totals]
    width = len(table.measures)
    for row in everything:
        row.marks = ["" for _ in range(width)]
    groups = _constraints(table)
    for i in range(width):
        for row in everything:
            if 0 < row.counts[i] < k:
                row.marks[i] = MARK_PRIMARY
        changed = True
        while changed:
            changed = False
            for group in groups:
                hidden = [r for r in group if r.marks[i]]
                if len(hidden) != 1:
                    continue
                total, members = group[0], group[1:]
                open_members = [r for r in members if not r.marks[i]]
                if open_members:
                    # smallest first, but a non-zero cell before a zero one: hiding
                    # a zero that everyone can guess protects little
                    pick = min(open_members, key=lambda r: (r.values[i] == 0, r.values[i], r.keys))
                else:
                    pick = total
                pick.marks[i] = MARK_COMPLEMENTARY
                changed = True
    table.published = True
    table.k = k


def publication_form(
    table: Table,
    *,
    k: int = DEFAULT_K,
    epsilon: float | None = None,
    rng: random.Random | None = None,
    noisy: Sequence[bool] | None = None,
) -> Table:
    """The table as it may leave the library: noise (if ε is given) then suppression."""
    if epsilon is not None:
        if noisy is None:
            noisy = [True] * len(table.measures)
        add_noise(table, epsilon=epsilon, rng=rng or random.SystemRandom(), noisy=noisy)
    suppress(table, k=k)
    return table


def cell_text(row: Row, i: int, *, k: int | None) -> str:
    mark = row.marks[i] if row.marks else ""
    if mark == MARK_PRIMARY:
        return f"<{k}"
    if mark == MARK_COMPLEMENTARY:
        return "x"
    return str(row.values[i])


# --- charts ------------------------------------------------------------------------------


@dataclass
class Tick:
    value: int
    y: float


@dataclass
class Chart:
    width: int
    height: int
    left: int
    top: int
    bottom: int  # y of the x axis
    right: int
    ticks: list[Tick]
    paths: list[str] = field(default_factory=list)  # polyline point lists (line charts)
    dots: list[tuple[float, float, str, int]] = field(default_factory=list)
    bars: list[tuple[float, float, float, float, str, int | None]] = field(default_factory=list)
    labels: list[tuple[float, str]] = field(default_factory=list)  # x, text under the axis
    gaps: list[tuple[float, str]] = field(default_factory=list)  # suppressed points


def nice_step(maximum: float, *, ticks: int = 5) -> int:
    """A round step (1, 2, 5 × 10^n) giving about `ticks` gridlines up to `maximum`."""
    if maximum <= 0:
        return 1
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if mult * power >= raw:
            return max(1, int(mult * power))
    return max(1, int(10 * power))  # pragma: no cover - the loop always returns


def _frame(values: list[int], width: int, height: int) -> tuple[int, list[Tick], int, int, int]:
    top_value = max(values, default=0)
    step = nice_step(top_value)
    top_tick = step * max(1, math.ceil(top_value / step))
    left, top, bottom = 56, 12, height - 48
    ticks = [Tick(v, bottom - (bottom - top) * v / top_tick) for v in range(0, top_tick + 1, step)]
    return top_tick, ticks, left, top, bottom


def line_chart(
    points: Sequence[tuple[str, int | None]], *, width: int = 720, height: int = 260
) -> Chart:
    """A line over time; a suppressed point (None) breaks the line and is marked."""
    values = [v for _, v in points if v is not None]
    top_tick, ticks, left, top, bottom = _frame(values, width, height)
    right = width - 12
    n = len(points)
    span = right - left

    def x_at(i: int) -> float:
        return left + (span * (i + 0.5) / n if n else 0)

    chart = Chart(width, height, left, top, bottom, right, ticks)
    segment: list[str] = []
    every = max(1, math.ceil(n / 12))
    for i, (label, value) in enumerate(points):
        x = round(x_at(i), 1)
        if i % every == 0:
            chart.labels.append((x, label))
        if value is None:
            if segment:
                chart.paths.append(" ".join(segment))
            segment = []
            chart.gaps.append((x, label))
            continue
        y = round(bottom - (bottom - top) * value / top_tick, 1)
        segment.append(f"{x},{y}")
        chart.dots.append((x, y, label, value))
    if segment:
        chart.paths.append(" ".join(segment))
    return chart


def bar_chart(
    bars: Sequence[tuple[str, int | None]], *, width: int = 720, height: int = 260
) -> Chart:
    """Bars side by side (by branch, by item type); a suppressed bar is left out and marked."""
    values = [v for _, v in bars if v is not None]
    top_tick, ticks, left, top, bottom = _frame(values, width, height)
    right = width - 12
    n = len(bars)
    slot = (right - left) / n if n else 0
    chart = Chart(width, height, left, top, bottom, right, ticks)
    for i, (label, value) in enumerate(bars):
        x = left + slot * i + slot * 0.15
        w = slot * 0.7
        centre = round(left + slot * (i + 0.5), 1)
        chart.labels.append((centre, label))
        if value is None:
            chart.gaps.append((centre, label))
            continue
        h = (bottom - top) * value / top_tick if top_tick else 0
        chart.bars.append(
            (round(x, 1), round(bottom - h, 1), round(w, 1), round(h, 1), label, value)
        )
    return chart


# --- scheduled report mail (RPT-1) ------------------------------------------------------

FREQUENCIES = ("daily", "weekly", "monthly")
WINDOWS = ("last", "rolling", "saved")
# the table in a mail's text: past this many rows, the rest is in the CSV only
MAIL_TEXT_ROWS = 300


def parse_frequency(value) -> str:
    if value not in FREQUENCIES:
        raise InvalidInput(
            f"Unknown frequency {str(value)[:40]!r}; use one of: {', '.join(FREQUENCIES)}.",
            code="invalid_frequency",
        )
    return value


def parse_window(value) -> str:
    if value not in WINDOWS:
        raise InvalidInput(
            f"Unknown range {str(value)[:40]!r}; use one of: {', '.join(WINDOWS)}.",
            code="invalid_window",
        )
    return value


def _first_of_next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def next_run_after(frequency: str, day: dt.date) -> dt.date:
    """The first day after `day` on which a schedule of this frequency runs:
    tomorrow, the next Monday, or the first of the next month."""
    if frequency == "daily":
        return day + dt.timedelta(days=1)
    if frequency == "weekly":
        return day + dt.timedelta(days=7 - day.weekday())
    if frequency == "monthly":
        return _first_of_next_month(day)
    raise ValueError(frequency)


def mail_range(
    *,
    window: str,
    frequency: str,
    run_day: dt.date,
    saved_start: dt.date | None,
    saved_end: dt.date | None,
) -> tuple[dt.date, dt.date]:
    """The dates a scheduled mail covers on `run_day`.

    last: the whole day, week (Monday-Sunday) or month before run_day;
    rolling: as many days as the saved range, ending the day before run_day;
    saved: the saved dates unchanged.
    """
    yesterday = run_day - dt.timedelta(days=1)
    if window == "saved" and saved_start and saved_end:
        return saved_start, saved_end
    if window == "rolling" and saved_start and saved_end:
        return yesterday - (saved_end - saved_start), yesterday
    if frequency == "daily":
        return yesterday, yesterday
    if frequency == "weekly":
        start = period_start(yesterday, "week")
        if start + dt.timedelta(days=6) > yesterday:
            start -= dt.timedelta(days=7)
        return start, start + dt.timedelta(days=6)
    start = yesterday.replace(day=1)
    if _first_of_next_month(start) - dt.timedelta(days=1) > yesterday:
        start = (start - dt.timedelta(days=1)).replace(day=1)
    return start, _first_of_next_month(start) - dt.timedelta(days=1)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, key_width: int) -> str:
    """A table as plain text for a mail: key columns left-aligned, numbers right-aligned,
    columns two spaces apart, a rule under the header."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) if i < len(r) else 0 for r in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        out = []
        for i, width in enumerate(widths):
            text = row[i] if i < len(row) else ""
            out.append(text.ljust(width) if i < key_width else text.rjust(width))
        return "  ".join(out).rstrip()

    lines = [line(cells[0]), "  ".join("-" * w for w in widths)]
    lines += [line(row) for row in cells[1:]]
    return "\n".join(lines)
