"""Pure tests of the report rules (RPT-1, PRV-AGG-1): validation, periods, tables,
small-cell and complementary suppression, Laplace noise, chart geometry."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quietshelf.core.errors import InvalidInput
from quietshelf.reports import policy

D = dt.date


# --- request validation ------------------------------------------------------------------


def test_range_ending_before_it_starts_is_refused_rpt_1():
    with pytest.raises(InvalidInput) as exc:
        policy.validate_range(D(2026, 3, 1), D(2026, 2, 28))
    assert exc.value.code == "invalid_range"


def test_range_of_a_hundred_years_is_refused_rpt_1():
    with pytest.raises(InvalidInput) as exc:
        policy.validate_range(D(1926, 1, 1), D(2026, 1, 1))
    assert exc.value.code == "range_too_long"


def test_ten_years_is_allowed_but_not_by_day_rpt_1():
    policy.validate_range(D(2016, 1, 2), D(2026, 1, 1), period="month")
    with pytest.raises(InvalidInput):
        policy.validate_range(D(2024, 1, 1), D(2026, 1, 1), period="day")
    policy.validate_range(D(2025, 1, 1), D(2025, 12, 31), period="day")


def test_a_one_day_range_is_fine_rpt_1():
    policy.validate_range(D(2026, 3, 1), D(2026, 3, 1))


def test_unknown_grouping_is_refused_rpt_1():
    with pytest.raises(InvalidInput) as exc:
        policy.parse_groups(["branch", "patron_name"], allowed=("branch", "item_type"))
    assert exc.value.code == "unknown_grouping"
    with pytest.raises(InvalidInput):
        policy.parse_period("fortnight")


def test_groupings_are_kept_in_order_once_and_may_be_comma_separated_rpt_1():
    allowed = ("branch", "item_type", "format")
    assert policy.parse_groups(["item_type,branch", "branch", ""], allowed=allowed) == [
        "item_type",
        "branch",
    ]
    assert policy.parse_period("none") is None
    assert policy.parse_period("week") == "week"


@pytest.mark.parametrize("value", ["1", "0", "-3", "two", "1001"])
def test_k_below_two_or_not_a_number_is_refused_prv_agg_1(value):
    with pytest.raises(InvalidInput) as exc:
        policy.parse_k(value)
    assert exc.value.code == "invalid_k"


def test_k_defaults_to_five_prv_agg_1():
    assert policy.parse_k(None) == 5
    assert policy.parse_k("2") == 2


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "x", "101"])
def test_epsilon_not_above_zero_is_refused_prv_agg_1(value):
    with pytest.raises(InvalidInput) as exc:
        policy.parse_epsilon(value)
    assert exc.value.code == "invalid_epsilon"


def test_epsilon_empty_means_no_noise_prv_agg_1():
    assert policy.parse_epsilon("") is None
    assert policy.parse_epsilon("0.5") == 0.5


def test_bad_date_is_refused_rpt_1():
    with pytest.raises(InvalidInput) as exc:
        policy.parse_date("2026-02-30", what="start")
    assert exc.value.code == "invalid_date"


def test_default_range_is_twelve_months_and_this_one_rpt_1():
    assert policy.default_range(D(2026, 3, 15)) == (D(2025, 4, 1), D(2026, 3, 15))
    assert policy.default_range(D(2026, 12, 7)) == (D(2026, 1, 1), D(2026, 12, 7))


# --- periods -----------------------------------------------------------------------------


def test_period_labels_sort_in_time_order_rpt_1():
    day = D(2026, 1, 1)  # a Thursday, in ISO week 2026-W01
    assert policy.period_label(policy.period_start(day, "day"), "day") == "2026-01-01"
    assert policy.period_start(day, "week") == D(2025, 12, 29)
    assert policy.period_label(policy.period_start(day, "week"), "week") == "2026-W01"
    assert policy.period_label(policy.period_start(day, "month"), "month") == "2026-01"
    assert policy.period_label(policy.period_start(day, "year"), "year") == "2026"


def test_periods_between_covers_the_range_rpt_1():
    months = policy.periods_between(D(2025, 11, 15), D(2026, 2, 1), "month")
    assert months == [D(2025, 11, 1), D(2025, 12, 1), D(2026, 1, 1), D(2026, 2, 1)]
    weeks = policy.periods_between(D(2026, 1, 1), D(2026, 1, 12), "week")
    assert weeks == [D(2025, 12, 29), D(2026, 1, 5), D(2026, 1, 12)]
    assert policy.periods_between(D(2024, 6, 1), D(2026, 1, 1), "year")[-1] == D(2026, 1, 1)


# --- tables ------------------------------------------------------------------------------


def _table(cells: dict, dims=("branch", "type")):
    return policy.build_table(dims, ("n",), [(k, [v], None) for k, v in cells.items()])


def test_build_table_adds_equal_keys_and_makes_margins_rpt_1():
    table = policy.build_table(
        ("branch", "type"),
        ("checkouts", "renewals"),
        [
            (("North", "Book"), [3, 0], None),
            (("North", "Book"), [0, 2], None),
            (("North", "DVD"), [1, 0], None),
            (("South", "Book"), [7, 1], None),
        ],
    )
    assert [(r.keys, r.values) for r in table.rows] == [
        (("North", "Book"), [3, 2]),
        (("North", "DVD"), [1, 0]),
        (("South", "Book"), [7, 1]),
    ]
    margins = {(r.margin, r.keys): r.values for r in table.totals[:-1]}
    assert margins == {
        (0, ("North", "")): [4, 2],
        (0, ("South", "")): [7, 1],
        (1, ("", "Book")): [10, 3],
        (1, ("", "DVD")): [1, 0],
    }
    assert table.grand_total().values == [11, 3]


def test_build_table_fills_empty_periods_rpt_1():
    table = policy.build_table(
        ("month",), ("n",), [(("2026-02",), [4], None)], fill=[["2026-01", "2026-02", "2026-03"]]
    )
    assert [(r.keys[0], r.values[0]) for r in table.rows] == [
        ("2026-01", 0),
        ("2026-02", 4),
        ("2026-03", 0),
    ]


def test_too_many_rows_is_refused_rpt_1(monkeypatch):
    monkeypatch.setattr(policy, "MAX_ROWS", 3)
    with pytest.raises(InvalidInput) as exc:
        _table({(str(i), "a"): 1 for i in range(4)})
    assert exc.value.code == "too_many_rows"


# --- suppression -------------------------------------------------------------------------


def test_small_cells_are_suppressed_and_shown_as_under_k_prv_agg_1():
    table = _table({("North", "Book"): 12, ("North", "DVD"): 3, ("South", "Book"): 9})
    policy.suppress(table, k=5)
    north_dvd = next(r for r in table.rows if r.keys == ("North", "DVD"))
    assert north_dvd.marks == [policy.MARK_PRIMARY]
    assert policy.cell_text(north_dvd, 0, k=5) == "<5"
    assert north_dvd.shown(0) is None


def test_a_total_cannot_reveal_a_suppressed_cell_prv_agg_1():
    # North = Book 12 + DVD 3: with DVD hidden and the North total shown, DVD = 15 - 12.
    table = _table(
        {("North", "Book"): 12, ("North", "DVD"): 3, ("South", "Book"): 9, ("South", "DVD"): 8}
    )
    policy.suppress(table, k=5)
    marks = {r.keys: r.marks[0] for r in table.rows}
    assert marks[("North", "DVD")] == policy.MARK_PRIMARY
    # another North cell and another DVD cell are hidden too
    assert marks[("North", "Book")] == policy.MARK_COMPLEMENTARY
    assert marks[("South", "DVD")] == policy.MARK_COMPLEMENTARY
    _assert_no_sum_reveals_one(table)


def test_one_dimension_hides_a_second_cell_against_the_grand_total_prv_agg_1():
    table = _table({("North",): 40, ("South",): 2, ("East",): 30}, dims=("branch",))
    policy.suppress(table, k=5)
    marks = {r.keys[0]: r.marks[0] for r in table.rows}
    assert marks == {"North": "", "South": policy.MARK_PRIMARY, "East": policy.MARK_COMPLEMENTARY}
    assert table.grand_total().marks == [""]


def test_a_lone_small_cell_hides_its_total_prv_agg_1():
    table = _table({("North",): 3}, dims=("branch",))
    policy.suppress(table, k=5)
    assert table.rows[0].marks == [policy.MARK_PRIMARY]
    assert table.grand_total().marks == [policy.MARK_PRIMARY]


def test_zero_cells_are_not_small_cells_prv_agg_1():
    table = _table({("North", "Book"): 0, ("North", "DVD"): 10, ("South", "Book"): 6})
    policy.suppress(table, k=5)
    assert all(not r.marks[0] for r in [*table.rows, *table.totals])


def test_complementary_prefers_a_non_zero_cell_prv_agg_1():
    table = _table({("A",): 0, ("B",): 2, ("C",): 50, ("D",): 20}, dims=("x",))
    policy.suppress(table, k=5)
    marks = {r.keys[0]: r.marks[0] for r in table.rows}
    assert marks["B"] == policy.MARK_PRIMARY
    assert marks["D"] == policy.MARK_COMPLEMENTARY
    assert marks["A"] == ""


def test_suppression_is_per_measure_prv_agg_1():
    table = policy.build_table(
        ("branch",),
        ("checkouts", "renewals"),
        [(("North",), [50, 1], None), (("South",), [60, 30], None)],
    )
    policy.suppress(table, k=5)
    assert [r.marks for r in table.rows] == [
        ["", policy.MARK_PRIMARY],
        ["", policy.MARK_COMPLEMENTARY],
    ]


def test_amounts_are_suppressed_by_how_many_payments_made_them_prv_agg_1():
    table = policy.build_table(
        ("branch",),
        ("paid",),
        [(("North",), [90000], [2]), (("South",), [300], [40]), (("East",), [500], [30])],
    )
    policy.suppress(table, k=5)
    marks = {r.keys[0]: r.marks[0] for r in table.rows}
    assert marks["North"] == policy.MARK_PRIMARY
    assert marks["South"] == policy.MARK_COMPLEMENTARY  # the smaller of the others


def test_k_below_two_is_refused_by_suppress_prv_agg_1():
    with pytest.raises(InvalidInput):
        policy.suppress(_table({("a", "b"): 1}), k=1)


def _assert_no_sum_reveals_one(table):
    for i in range(len(table.measures)):
        for group in policy._constraints(table):
            hidden = [r for r in group if r.marks[i]]
            assert len(hidden) != 1, (group[0].keys, [r.keys for r in hidden])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=12),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=2, max_value=10),
)
def test_no_published_sum_ever_has_exactly_one_hidden_part_prv_agg_1(values, columns, k):
    keys = itertools.product(
        [f"r{i}" for i in range(len(values))], [f"c{j}" for j in range(columns)]
    )
    rng = random.Random(sum(values) + columns)
    cells = {key: values[n % len(values)] * rng.randint(0, 1) for n, key in enumerate(keys)}
    table = _table(cells)
    policy.suppress(table, k=k)
    _assert_no_sum_reveals_one(table)
    for row in [*table.rows, *table.totals]:
        if 0 < row.counts[0] < k:
            assert row.marks[0] == policy.MARK_PRIMARY


# --- noise -------------------------------------------------------------------------------


def test_laplace_noise_has_the_right_spread_prv_agg_1():
    rng = random.Random(1)
    draws = [policy.laplace(rng, 2.0) for _ in range(20000)]
    mean = sum(draws) / len(draws)
    mean_abs = sum(abs(d) for d in draws) / len(draws)  # E|X| = scale for Laplace
    assert abs(mean) < 0.1
    assert 1.9 < mean_abs < 2.1


def test_noise_is_seeded_rounded_non_negative_and_totals_add_up_prv_agg_1():
    def noisy(seed):
        table = _table({("North", "Book"): 40, ("North", "DVD"): 1, ("South", "Book"): 25})
        policy.add_noise(table, epsilon=0.5, rng=random.Random(seed), noisy=[True])
        return table

    a, b, c = noisy(7), noisy(7), noisy(8)
    assert [r.values for r in a.rows] == [r.values for r in b.rows]
    assert [r.values for r in a.rows] != [r.values for r in c.rows]
    for row in a.rows:
        assert row.values[0] >= 0 and isinstance(row.values[0], int)
    assert a.grand_total().values[0] == sum(r.values[0] for r in a.rows)
    assert a.epsilon == 0.5


def test_noise_leaves_amounts_alone_prv_agg_1():
    table = policy.build_table(("b",), ("n", "paid"), [(("x",), [10, 5000], [10, 8])])
    policy.add_noise(table, epsilon=0.1, rng=random.Random(3), noisy=[True, False])
    assert table.rows[0].values[1] == 5000


def test_publication_form_adds_noise_then_suppresses_prv_agg_1():
    table = _table({("North", "Book"): 400, ("North", "DVD"): 300, ("South", "Book"): 250})
    policy.publication_form(table, k=5, epsilon=1.0, rng=random.Random(5))
    assert table.published and table.k == 5 and table.epsilon == 1.0
    assert [r.values[0] for r in table.rows] != [400, 300, 250]


# --- charts ------------------------------------------------------------------------------


def test_nice_steps_are_round_rpt_1():
    assert policy.nice_step(0) == 1
    assert policy.nice_step(7) == 2
    assert policy.nice_step(100) == 20
    assert policy.nice_step(1234) == 500


def test_line_chart_geometry_rpt_1():
    chart = policy.line_chart([("2026-01", 0), ("2026-02", 50), ("2026-03", 100)])
    assert [t.value for t in chart.ticks] == [0, 20, 40, 60, 80, 100]
    (path,) = chart.paths
    points = [tuple(map(float, p.split(","))) for p in path.split()]
    assert points[0][1] == chart.bottom  # zero sits on the axis
    assert points[2][1] == chart.top  # the highest value touches the top
    assert points[0][0] < points[1][0] < points[2][0]
    assert [label for _x, label in chart.labels] == ["2026-01", "2026-02", "2026-03"]


def test_line_chart_breaks_at_a_suppressed_point_rpt_1():
    chart = policy.line_chart([("a", 10), ("b", None), ("c", 12), ("d", 14)])
    assert len(chart.paths) == 2
    assert [label for _x, label in chart.gaps] == ["b"]


def test_line_chart_labels_are_thinned_rpt_1():
    chart = policy.line_chart([(str(i), i) for i in range(100)])
    assert len(chart.labels) <= 13


def test_bar_chart_geometry_rpt_1():
    chart = policy.bar_chart([("North", 30), ("South", None), ("East", 15)])
    assert [b[4] for b in chart.bars] == ["North", "East"]
    north, east = chart.bars
    assert north[3] == pytest.approx(2 * east[3])
    assert north[1] + north[3] == pytest.approx(chart.bottom)
    assert [label for _x, label in chart.gaps] == ["South"]


def test_empty_charts_do_not_fail_rpt_1():
    assert policy.bar_chart([]).bars == []
    assert policy.line_chart([]).paths == []
