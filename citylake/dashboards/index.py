"""The dashboards' index page (`index.html` beside them): a link to every dashboard built, the
notebooks left out and why, the data's as-of time and when the dashboards were built."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment

from citylake.dashboards.scope import Scope


@dataclass(frozen=True)
class Card:
    """One dashboard as the index lists it: its page (relative to the index), title and one line
    on what it shows."""

    href: str
    title: str
    summary: str


@dataclass(frozen=True)
class LeftOut:
    """A notebook not built, and the lake tables it needs that the lake does not have yet."""

    title: str
    missing: list[str]


_PAGE = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string("""\
<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>数据看板 Dashboards · {{ scope.where }}</title>
<style>
  body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 2em auto;
         max-width: 52em; padding: 0 1em; color: #222; }
  h1 { font-size: 1.6em; margin-bottom: .2em; }
  dl.facts { display: grid; grid-template-columns: max-content auto; gap: .3em 1em; color: #444; }
  dl.facts dt { font-weight: bold; }
  ul.cards { list-style: none; padding: 0; }
  ul.cards li { border: 1px solid #ddd; border-radius: 6px; padding: .7em 1em; margin: .6em 0; }
  ul.cards a { font-size: 1.15em; font-weight: bold; text-decoration: none; color: #1f5fa8; }
  ul.cards p { margin: .3em 0 0; color: #444; }
  .left-out li { color: #8a5a00; }
  code { font-size: .9em; }
</style>
</head>
<body>
<h1>数据看板 Dashboards</h1>
<dl class="facts">
  <dt>范围 Scope</dt><dd id="scope">{{ scope.where }}</dd>
  <dt>数据截至 Data as of</dt>
  <dd id="data-as-of">{% if data_as_of %}{{ data_as_of.strftime("%Y-%m-%d %H:%M") }}
    <small>(最新入湖批次的抽取时间 latest extraction time of a landed batch{% if scope.as_of %};
    截至日 as-of day {{ scope.as_of.isoformat() }}{% endif %})</small>
    {% else %}无数据 no landed batch{% if scope.as_of %} by {{ scope.as_of.isoformat() }}{% endif %}{% endif %}</dd>
  <dt>生成时间 Built at</dt><dd id="built-at">{{ built_at.strftime("%Y-%m-%d %H:%M:%S") }}</dd>
</dl>
<h2>看板 Dashboards ({{ cards | length }})</h2>
{% if cards %}
<ul class="cards">
  {% for card in cards %}
  <li><a href="{{ card.href }}">{{ card.title }}</a><p>{{ card.summary }}</p></li>
  {% endfor %}
</ul>
{% else %}
<p>尚无看板：所需的表都还不在数据湖中。 No dashboard yet: the lake has none of the tables they read.</p>
{% endif %}
{% if left_out %}
<h2>未生成 Left out ({{ left_out | length }})</h2>
<ul class="left-out">
  {% for item in left_out %}
  <li>{{ item.title }}: 缺少表 needs {% for table in item.missing %}<code>{{ table }}</code>{{ ", " if not loop.last }}{% endfor %}
    (尚未入湖 not in the lake yet)</li>
  {% endfor %}
</ul>
{% endif %}
</body>
</html>
""")


def render_index(cards: list[Card], left_out: list[LeftOut], scope: Scope, data_as_of: datetime | None,
                 built_at: datetime) -> str:
    """The index page's HTML: self-contained, no script, opens offline."""
    return _PAGE.render(cards=cards, left_out=left_out, scope=scope, data_as_of=data_as_of, built_at=built_at)


def write_index(out_dir: Path, cards: list[Card], left_out: list[LeftOut], scope: Scope,
                data_as_of: datetime | None, built_at: datetime) -> Path:
    """Write `<out_dir>/index.html`; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "index.html"
    page.write_text(render_index(cards, left_out, scope, data_as_of, built_at), encoding="utf-8")
    return page
