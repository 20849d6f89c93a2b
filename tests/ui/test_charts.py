"""Server-side chart data: downsampling keeps the shape and the size bound; JSON is script-safe."""

from __future__ import annotations

import json

from shipyard.server.ui.charts import MAX_POINTS, Chart, downsample


def test_downsample_bounds_points_and_keeps_extremes() -> None:
    x = list(range(100_000))
    y = [0.0] * 100_000
    y[31_337] = 9.0
    y[77_000] = -4.0
    xs, ys = downsample(x, y)
    assert len(xs) <= MAX_POINTS
    assert xs[0] == 0 and xs[-1] == 99_999
    assert 9.0 in ys and -4.0 in ys
    assert xs == sorted(xs)


def test_short_series_untouched_and_non_finite_become_gaps() -> None:
    xs, ys = downsample([1, 2, 3], [1.0, float("nan"), None])
    assert xs == [1.0, 2.0, 3.0]
    assert ys == [1.0, None, None]


def test_series_join_on_a_shared_axis_with_gaps() -> None:
    chart = Chart("c", "t").add("a", [1, 2], [10, 20]).add("b", [2, 3], [5, 6])
    assert chart.x == [1, 2, 3]
    assert chart.aligned() == [[10, 20, None], [None, 5, 6]]
    assert chart.rows()[0] == ["1", "10", "-"]


def test_json_cannot_close_the_script_element() -> None:
    chart = Chart("c", "</script><b>").add("</script>", [1], [1])
    text = chart.json()
    assert "<" not in text and ">" not in text
    assert json.loads(text)["series"][0]["label"] == "</script>"
