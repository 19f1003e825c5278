"""The thematic libraries job (`citylake theme`): every table of `conf/themes.yml` into
`lake.theme.<table>`, from the base and integrated layers, to the lake's as-of time.

Each table is one Delta commit replacing its previous build, and records the fingerprint of what
it was made from (its sources' versions, the ledger's, its declaration and the reference data):
a table whose inputs did not change is not rebuilt. A table whose sources the lake does not have
yet is left out, and said so, with the tables that read it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from citylake import lake
from citylake.catalog import Catalog, load_catalog
from citylake.themes import ThemeTable, Themes, load_themes
from jobs.landing.ledger import LEDGER
from jobs.theme.queries import classified, missing_sources, run_query
from jobs.theme.references import register_references

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


class UndocumentedColumns(ValueError):
    """A theme query's columns differ from the ones its declaration documents."""


@dataclass(frozen=True)
class ThemeBuild:
    """What one build did: rows per table written, the tables already up to date, those left out
    -> the lake tables they need that are missing, the as-of time, and the seconds it took."""

    rows: dict[str, int]
    up_to_date: list[str]
    left_out: dict[str, list[str]]
    as_of: str
    seconds: float = 0.0


def theme_frame(spark: SparkSession, table: ThemeTable, params: dict[str, object], as_of) -> DataFrame:
    """A theme table's rows: its query, classified, with exactly its documented columns."""
    frame = classified(run_query(spark, table, params, as_of), table.classify, table.flags)
    documented, produced = list(table.columns), frame.columns
    if set(documented) != set(produced):
        extra = sorted(set(produced) - set(documented))
        missing = sorted(set(documented) - set(produced))
        raise UndocumentedColumns(f"query gives undocumented columns {extra} and lacks documented {missing}"
                                  if extra and missing else
                                  f"query gives undocumented columns {extra}" if extra else
                                  f"query lacks documented columns {missing}")
    return frame.select(*documented)


def build(spark: SparkSession, themes: Themes | None = None, catalog: Catalog | None = None,
          progress: Progress | None = None, force: bool = False) -> ThemeBuild:
    """Build every theme table its sources allow, in dependency order."""
    started = time.monotonic()
    catalog = catalog or load_catalog()
    themes = themes or load_themes(catalog.conf_dir)
    say = progress or (lambda step: log.info("%s", step))
    references = register_references(spark, catalog)
    as_of = references.as_of

    rows: dict[str, int] = {}
    up_to_date: list[str] = []
    left_out: dict[str, list[str]] = {}
    for name in themes.build_order():
        table, qualified = themes.tables[name], themes.qualified(name)
        missing = missing_sources(spark, table)
        missing += [source for source in table.sources if source in left_out]
        if missing:
            left_out[qualified] = sorted(set(missing))
            continue
        fingerprint = lake.inputs_fingerprint(spark, [*table.sources, LEDGER], table.model_dump_json(),
                                              str(themes.params), references.configuration)
        if not force and lake.recorded_fingerprint(spark, qualified) == fingerprint:
            up_to_date.append(qualified)
            continue
        say(f"writing {qualified}")
        frame = theme_frame(spark, table, themes.params, as_of)
        lake.write_table(frame, qualified, "overwrite", made_from=fingerprint)
        rows[qualified] = lake.rows_written(spark, qualified)
    return ThemeBuild(rows, up_to_date, left_out, as_of.isoformat(sep=" "), time.monotonic() - started)
