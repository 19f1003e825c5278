"""The one list of the jobs that write the lake, each with the function that declares the tables
it writes (documented) and the edges they are made from. A new job adds its line here:
`"<command>": <its package's lineage module>.declared`, a function of the catalog returning a
`Declared`. `ops.lineage` and the data dictionary are made from this list and nothing else."""

from __future__ import annotations

from collections.abc import Callable

from citylake.catalog import Catalog
from jobs.assess import lineage as assess
from jobs.audit import lineage as audit
from jobs.base import lineage as base
from jobs.catalog import lineage as catalog_job
from jobs.catalog.model import Declared, Edge, TableDoc, in_lake
from jobs.corrections import lineage as corrections
from jobs.exchange import lineage as exchange
from jobs.integrate import lineage as integrate
from jobs.landing import lineage as landing
from jobs.run import lineage as daily_run
from jobs.share import lineage as share
from jobs.theme import lineage as theme
from jobs.warn import lineage as warn

Declarer = Callable[[Catalog], Declared]

# job (its citylake command) -> its declaration, in the order the jobs run
JOBS: dict[str, Declarer] = {
    "land": landing.declared,
    "integrate": integrate.declared,
    "corrections": corrections.declared,
    "base": base.declared,
    "theme": theme.declared,
    "warn": warn.declared,
    "catalog": catalog_job.declared,
    "audit": audit.declared,
    "run": daily_run.declared,
    "share": share.declared,
    "exchange": exchange.declared,
    "assess": assess.declared,
}


class DeclarationError(ValueError):
    """Jobs' declarations contradict one another (one table documented two ways, an edge into a
    table nobody documents)."""


def declarations(catalog: Catalog, jobs: dict[str, Declarer] | None = None) -> dict[str, Declared]:
    """Every job's declaration, by job."""
    return {job: declare(catalog) for job, declare in (jobs or JOBS).items()}


def lineage_edges(declared: dict[str, Declared]) -> list[tuple[str, Edge]]:
    """(job, edge) for every edge every job declares, each once, self-reads left out (a full
    extract diffed against its own table does not make the table from itself)."""
    seen: set[tuple[str, Edge]] = set()
    edges = []
    for job, declaration in declared.items():
        for edge in declaration.edges:
            if edge.table != edge.source and (job, edge) not in seen:
                seen.add((job, edge))
                edges.append((job, edge))
    return edges


def documented_tables(declared: dict[str, Declared]) -> dict[str, TableDoc]:
    """Every lake table the jobs document, by name; checked: documented once (or identically),
    and every lake table an edge leads into documented."""
    tables: dict[str, TableDoc] = {}
    for job, declaration in declared.items():
        for doc in declaration.tables:
            if tables.get(doc.name, doc) != doc:
                raise DeclarationError(f"{doc.name} is documented differently by {job} and another job")
            tables[doc.name] = doc
    undocumented = sorted({edge.table for _, edge in lineage_edges(declared) if in_lake(edge.table)} - set(tables))
    if undocumented:
        raise DeclarationError(f"lineage leads into tables no job documents: {', '.join(undocumented)}")
    return tables
