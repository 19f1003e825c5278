"""The index page: links the dashboards built, lists those left out and why, states the times."""

from datetime import date, datetime

from citylake.dashboards.index import Card, LeftOut, render_index
from citylake.dashboards.scope import Scope, resolve_scope

BUILT_AT = datetime(2026, 3, 12, 9, 30, 5)


def test_it_links_the_dashboards_and_says_what_is_missing_and_when():
    html = render_index([Card("data_quality.html", "数据质量 Data quality", "Scores <by> department")],
                        [LeftOut("预警 Early warning", ["lake.app.warning", "lake.theme.credit"])],
                        resolve_scope("350502", "2026-03-05"), datetime(2026, 3, 5, 18, 0), BUILT_AT)
    assert '<a href="data_quality.html">数据质量 Data quality</a><p>Scores &lt;by&gt; department</p>' in html
    assert "预警 Early warning: 缺少表 needs <code>lake.app.warning</code>, <code>lake.theme.credit</code>" in html
    assert '<dd id="scope">鲤城区 Licheng</dd>' in html
    assert "2026-03-05 18:00" in html and "截至日 as-of day 2026-03-05" in html
    assert '<dd id="built-at">2026-03-12 09:30:05</dd>' in html
    assert "<script" not in html


def test_an_empty_lake_says_so():
    html = render_index([], [LeftOut("数据质量 Data quality", ["lake.ops.quality_score"])], Scope(), None, BUILT_AT)
    assert "无数据 no landed batch" in html and "尚无看板" in html and "Left out (1)" in html
    assert "无数据 no landed batch by 2026-01-01" in render_index([], [], Scope(as_of=date(2026, 1, 1)), None, BUILT_AT)
