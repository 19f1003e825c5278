"""What every dashboard notebook shows besides its charts: plotly set to draw offline, the
heading line saying the scope and the data's as-of time, and a sentence where a chart has no data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd
import plotly.io as pio
from IPython.display import Markdown, display

from citylake.dashboards.scope import Scope


def draw_offline() -> None:
    """Make `fig.show()` inline plotly.js into the notebook, so the exported page needs no network."""
    pio.renderers.default = "notebook"


def scope_line(scope: Scope, data_as_of: datetime | None) -> str:
    """`范围 Scope: … · 数据截至 Data as of: …` for the top of a dashboard."""
    as_of = data_as_of.strftime("%Y-%m-%d %H:%M") if data_as_of else "无数据 no data"
    day = f" (截至日 as-of day {scope.as_of.isoformat()})" if scope.as_of else ""
    return f"**范围 Scope:** {scope.where} · **数据截至 Data as of:** {as_of}{day}"


def show_scope(scope: Scope, data_as_of: datetime | None) -> None:
    display(Markdown(scope_line(scope, data_as_of)))


def chart(frame: pd.DataFrame, draw: Callable[[pd.DataFrame], object], empty: str) -> None:
    """Draw the frame (`draw` returns a plotly figure), or say `empty` where it has no rows: a
    chart of nothing would read as a chart that failed."""
    if frame.empty:
        display(Markdown(f"*{empty}*"))
    else:
        draw(frame).show()
