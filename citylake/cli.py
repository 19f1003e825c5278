"""The `citylake` command: set up, generate a city, land it, run Trino and the notebooks."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from citylake.settings import ConfigError, profile

console = Console()


def cmd_setup(args: argparse.Namespace) -> None:
    """Fetch and check every JVM part: the Trino server and CLI, a Java for each engine, the Delta jars."""
    from citylake.spark import jvm_log, spark_session
    from citylake.trino import server

    settings = profile()
    started = time.monotonic()
    home = server.install(settings)
    cli = server.install_cli(settings)
    java = server.java_home(settings)
    console.print(f"Trino {settings.trino.version}: {home}\nTrino CLI: {cli}\nJava for Trino: {java}")
    spark = spark_session(settings)  # resolves the Delta jars into the project's cache
    console.print(f"Spark {spark.version} with {', '.join(settings.spark.packages)} (log: {jvm_log(settings)})")
    console.print(f"set-up checked in {time.monotonic() - started:.1f} s")


def cmd_generate(args: argparse.Namespace) -> None:
    """Write a synthetic city's delivery packages and ground truth."""
    from citylake.synthetic import generate_city

    out = Path(args.out) if args.out else profile().path("city")
    summary = generate_city(out, persons=args.persons, days=args.days, seed=args.seed,
                            start=date.fromisoformat(args.start))
    console.print(summary)


def cmd_land(args: argparse.Namespace) -> None:
    """Land every ready package in the inbox, showing progress, and print a summary per resource."""
    from citylake.spark import spark_session
    from jobs.landing.job import land_inbox
    from jobs.landing.progress import RichLandingProgress

    inbox = Path(args.inbox) if args.inbox else None
    spark = spark_session()
    with RichLandingProgress(console) as progress:
        entries = land_inbox(spark, inbox, progress=progress)
    console.print(landing_summary(entries))
    say_missing(spark, "raw", "no delivery landed yet")


def say_missing(spark, layer: str, what: str) -> None:
    """One line naming the catalog's resources that have no table in this layer yet."""
    from citylake import lake
    from citylake.catalog import load_catalog

    missing = sorted(resource.qualified_code for resource in load_catalog()
                     if not lake.table_exists(spark, f"{layer}.{resource.table_name}"))
    if missing:
        console.print(f"[yellow]{what}[/yellow] ({len(missing)}): {', '.join(missing)}")


def cmd_integrate(args: argparse.Namespace) -> None:
    """Take every landed batch into the integrated layer: standardize, check, apply changes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from citylake.spark import spark_session
    from jobs.integrate.job import integrate

    with Progress(TextColumn("[bold]integrate[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("", total=None)

        def show(resource, run) -> None:
            bar.update(task, description=f"{resource.qualified_code} sequence {run[0].sequence}-{run[-1].sequence}")
            bar.advance(task, len(run))

        entries = integrate(spark_session(), resources=args.resource or None, progress=show)
    if not entries:
        console.print("nothing to integrate: every landed batch has been integrated already")
    else:
        console.print(integration_summary(entries))
    say_missing(spark_session(), "integrated", "not integrated yet, nothing landed")


def cmd_base(args: argparse.Namespace) -> None:
    """Build the base libraries from the integrated layer: current state, history, conflicts."""
    from citylake.spark import spark_session
    from jobs.base.job import NothingToBuild, build

    try:
        with console.status("base libraries") as status:
            built = build(spark_session(), progress=lambda step: status.update(f"base libraries: {step}"))
    except NothingToBuild as nothing:
        console.print(f"[yellow]base:[/yellow] {nothing}")
        sys.exit(1)
    if built.up_to_date:
        console.print("base libraries up to date: nothing integrated or configured has changed since their last build")
    else:
        console.print(base_summary(built))
    for line in base_gaps(built):
        console.print(line)


def base_summary(built) -> Table:
    table = Table(title=f"Base libraries built in {built.seconds:.0f} s")
    table.add_column("table", no_wrap=True)
    table.add_column("rows", justify="right")
    for name, rows in built.rows.items():
        table.add_row(f"lake.{name}", f"{rows:,}")
    return table


def base_gaps(built) -> list[str]:
    """What a lake that lacks resources left out of the base libraries, one line each."""
    lines = [f"[yellow]left out[/yellow] base.{library}: needs one of {', '.join(resources)} (not integrated yet)"
             for library, resources in built.left_out.items()]
    lines += [f"[yellow]built without[/yellow] {', '.join(resources)}: base.{library} (not integrated yet)"
              for library, resources in built.built_without.items()]
    lines += [f"[yellow]not checked[/yellow] lake.{table}: {', '.join(kinds)} (against a library left out)"
              for table, kinds in built.unchecked.items()]
    return lines


def cmd_theme(args: argparse.Namespace) -> None:
    """Build the thematic libraries (credit, enterprise operation, population, housing, city events)."""
    from citylake.spark import spark_session
    from jobs.theme.job import build
    from jobs.theme.references import NothingLanded

    try:
        with console.status("thematic libraries") as status:
            built = build(spark_session(), progress=lambda step: status.update(f"thematic libraries: {step}"),
                          force=getattr(args, "force", False))
    except NothingLanded as nothing:
        console.print(f"[yellow]theme:[/yellow] {nothing}")
        sys.exit(1)
    table = Table(title=f"Thematic libraries as of {built.as_of}, built in {built.seconds:.0f} s")
    table.add_column("table", no_wrap=True)
    table.add_column("rows", justify="right")
    for name, rows in built.rows.items():
        table.add_row(f"lake.{name}", f"{rows:,}")
    for name in built.up_to_date:
        table.add_row(f"lake.{name}", "up to date")
    console.print(table)
    for name, sources in built.left_out.items():
        console.print(f"[yellow]left out[/yellow] lake.{name}: needs {', '.join(sources)} (not in the lake yet)")


def cmd_warn(args: argparse.Namespace) -> None:
    """Evaluate the early-warning rules and update the warnings' lifecycle."""
    from citylake.spark import spark_session
    from jobs.theme.references import NothingLanded
    from jobs.warn.job import warn

    try:
        with console.status("early warnings"):
            run = warn(spark_session())
    except NothingLanded as nothing:
        console.print(f"[yellow]warn:[/yellow] {nothing}")
        sys.exit(1)
    changes = run.changes
    console.print(f"warnings as of {run.as_of}: {len(run.evaluated)} rules evaluated; "
                  f"{changes.opened} new, {changes.reopened} reopened, {changes.severity_changed} of changed severity, "
                  f"{changes.updated} updated, {changes.auto_closed} closed (condition cleared), "
                  f"{changes.cleared} cleared while closed by a person, {changes.unchanged} unchanged")
    for name, sources in run.left_out.items():
        console.print(f"[yellow]not evaluated[/yellow] {name}: needs {', '.join(sources)} (not in the lake yet)")


def integration_summary(entries: list) -> Table:
    """Per resource: batches applied and rejected, rows in, quarantined and warned; the changes
    applied; then each rejected batch with why and the rules its rows failed most. Two narrow
    tables rather than one wide one: every header reads whole in an 80-column terminal."""
    from rich import box
    from rich.text import Text

    from jobs.integrate.ledger import CHANGES, REJECTED, most_failed, totals_by_resource

    totals = sorted(totals_by_resource(entries).items())
    counts = ("applied", "rejected", "rows_in", "rows_quarantined", "rows_warned")
    style = dict(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    batches = Table(title="Integration summary", **style)
    changes = Table(title="Changes applied", **style)
    for table, columns in ((batches, ("applied", "rejected", "rows in", "quarantined", "warned")), (changes, CHANGES)):
        table.add_column("resource", no_wrap=True)
        for column in columns:
            table.add_column(column, justify="right")
    for name, total in totals:
        batches.add_row(name, *[f"{total[key]:,}" for key in counts])
        changes.add_row(name, *[f"{total[key]:,}" for key in CHANGES])
    rejections = Table.grid(padding=(0, 1))
    rejections.add_column(style="bold red", no_wrap=True)
    rejections.add_column()
    for e in entries:
        if e.status == REJECTED:
            rejections.add_row("rejected", Text(f"{e.department}.{e.resource} sequence {e.sequence} ({e.batch_id})\n"
                                                f"{e.reason}\nmost failed rules: {most_failed(e.failures) or 'none'}"))
    summary = Table.grid()
    for part in (batches, changes, rejections):
        summary.add_row(part)
    return summary


def cmd_corrections(args: argparse.Namespace) -> None:
    """Write each department's correction package (纠错) of its open quarantined rows."""
    from citylake.catalog import load_catalog
    from citylake.spark import spark_session
    from jobs.corrections.job import write_packages
    from jobs.landing.manifest import now

    out = Path(args.out) if args.out else profile().path("var") / "corrections"
    packages = write_packages(spark_session(), load_catalog(), out, now(), args.department or None)
    for package in packages:
        console.print(f"correction package: {package}")
    if not packages:
        console.print("no open corrections")


def cmd_catalog(args: argparse.Namespace) -> None:
    """Write the resource catalog and lineage tables (lake.ops) and the data dictionary."""
    from citylake.spark import spark_session
    from jobs.catalog.job import run

    with console.status("catalog, lineage and data dictionary"):
        written = run(spark_session())
    for name, rows in written.rows.items():
        console.print(f"lake.{name}: {rows:,} rows")
    if written.unchanged:
        console.print(f"up to date: {', '.join(f'lake.{name}' for name in written.unchanged)}", soft_wrap=True)
    for name in written.undeclared:
        console.print(f"[yellow]undocumented[/yellow] lake.{name}: in the lake, but no job declares it")
    console.print(f"data dictionary: {written.dictionary}", soft_wrap=True)


def cmd_release(args: argparse.Namespace) -> None:
    """Release a held package (sequence gap or delete guard) so that the next landing run lands it."""
    from citylake.spark import spark_session
    from jobs.landing.ledger import release

    department, _, resource = args.resource.partition(".")
    try:
        entry = release(spark_session(), department, resource, args.batch_id, args.reason)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        sys.exit(1)
    console.print(f"{args.resource} {args.batch_id}: {entry.reason}; run `citylake land` to land it")


def landing_summary(entries: list) -> Table:
    """Per resource: packages landed, replayed, held, rejected; rows landed and quarantined."""
    from rich import box

    # one space between columns, headers over two lines: the longest resource name, every header
    # word and counts in millions fit in an 80-column terminal
    table = Table(title="Landing summary", box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0))
    table.add_column("resource", no_wrap=True)
    for column in ("landed", "replay", "held", "rejected", "rows\nlanded", "rows\nquarantined"):
        table.add_column(column, justify="right")
    by_resource: dict[str, Counter] = {}
    for entry in entries:
        counts = by_resource.setdefault(f"{entry.department}.{entry.resource}", Counter())
        counts[entry.status] += 1
        counts["rows landed"] += entry.rows_landed
        counts["rows quarantined"] += entry.rows_quarantined
    for name, counts in sorted(by_resource.items()):
        table.add_row(name, *(f"{counts[key]:,}" for key in
                              ("landed", "replay", "held", "rejected", "rows landed", "rows quarantined")))
    return table


def cmd_warnings(args: argparse.Namespace) -> None:
    """List the early warnings, or acknowledge or close one, with who and why."""
    from rich.text import Text

    from citylake.spark import spark_session
    from jobs.warn import lifecycle

    try:
        if args.action == "list":
            console.print(warnings_table(lifecycle.list_warnings(spark_session(), args.status, args.rule,
                                                                 args.district)))
            return
        change = lifecycle.acknowledge if args.action == "ack" else lifecycle.close
        row = change(spark_session(), args.warning_id, args.by, args.reason)
    except lifecycle.NoWarnings as none:
        console.print(str(none))
        sys.exit(0 if args.action == "list" else 1)
    except lifecycle.WarningError as error:
        console.print(Text(str(error), style="red"), soft_wrap=True)
        sys.exit(1)
    console.print(Text(f"{row['warning_id']}: {row['last_change']['from_status']} -> {row['status']} "
                       f"by {args.by.strip()}: {args.reason.strip()}"), soft_wrap=True)


def warnings_table(warnings) -> Table | str:
    """One row per warning: its id, subject and district, and evidence in one column (the id whole,
    to copy into ack and close); severity, status and last seen beside it. Reads at 80 columns."""
    from rich import box
    from rich.text import Text

    from jobs.warn.lifecycle import STATUSES

    if warnings.empty:
        return "no warnings match"
    counts = warnings["status"].value_counts()
    table = Table(title="Warnings: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES if s in counts),
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, leading=1)
    table.add_column("warning", ratio=1, overflow="fold")
    for column in ("severity", "status", "last seen"):
        table.add_column(column, no_wrap=True)
    for warning in warnings.itertuples():
        cell = Text(warning.warning_id, style="bold")
        cell.append("\n" + " · ".join(name for name in (warning.subject_name, warning.district_name) if name))
        cell.append("\n" + ", ".join(f"{key}={value}" for key, value in (warning.evidence or {}).items()), style="dim")
        table.add_row(cell, Text(warning.severity, style={"high": "red", "medium": "yellow"}.get(warning.severity, "")),
                      warning.status, f"{warning.last_seen:%Y-%m-%d}")
    return table


def cmd_trino(args: argparse.Namespace) -> None:
    from citylake.trino import client, server

    settings = profile()
    if args.action == "start":
        info = server.start(settings)
        synced = client.sync_catalog(settings)
        console.print(f"Trino {info['nodeVersion']['version']} answers at http://{settings.trino.host}:"
                      f"{settings.trino.port}; tables registered: {len(synced['registered'])}")
    elif args.action == "stop":
        console.print("stopped" if server.stop(settings) else "not running")
    else:
        state = server.status(settings)
        for key, value in state.items():
            console.print(f"{key:>8}: {value}")
        if not state["running"]:
            sys.exit(3)


def cmd_sql(args: argparse.Namespace) -> None:
    """Run one statement through the Trino CLI and print its table."""
    # no interactive terminal is needed: jline's warning that it falls back to a dumb one is noise
    sys.exit(run_trino_cli(["--execute", args.statement, "--output-format", args.format],
                           ["-Dorg.jline.terminal.dumb=true"]))


def run_trino_cli(extra: list[str], java_options: list[str] = ()) -> int:
    from citylake.trino import server

    settings = profile()
    java = server.java_home(settings) / "bin" / "java"
    # the CLI's terminal library loads native code, which Java 24+ warns about unless allowed
    command = [str(java), "--enable-native-access=ALL-UNNAMED", *java_options, "-jar", str(server.install_cli(settings)),
               f"--server=http://{settings.trino.host}:{settings.trino.port}",
               f"--user={settings.trino.user}", f"--catalog={settings.trino.catalog}", *extra]
    return subprocess.call(command)


def cmd_notebooks(args: argparse.Namespace) -> None:
    """Execute the notebooks whose tables are in the lake, export their dashboards and the index page."""
    from citylake.notebooks import NotebookFailed, build_dashboards
    from citylake.trino import server

    if not server.is_running(profile()):
        console.print("[red]Trino is not running[/red]: the notebooks read the lake through it (citylake trino start)")
        sys.exit(1)
    try:
        made = build_dashboards(district=getattr(args, "district", None), as_of=getattr(args, "as_of", None))
    except ValueError as exc:  # an unknown district or a bad day
        console.print(f"[red]{exc}[/red]")
        sys.exit(2)
    except NotebookFailed as failed:
        console.print(f"[red]notebook failed[/red]: {failed}")
        sys.exit(1)
    for html in made.built:
        console.print(f"dashboard: {html}")
    for notebook, tables in made.left_out.items():
        console.print(f"[yellow]left out[/yellow] {notebook}: needs {', '.join(tables)} (not in the lake yet)")
    console.print(f"index: {made.index}")


def cmd_lab(args: argparse.Namespace) -> None:
    """Start JupyterLab on 127.0.0.1 over the notebooks, with the project's kernel; Ctrl-C stops it."""
    from citylake.jupyter import run_lab

    sys.exit(run_lab(args.port, browser=not args.no_browser))


def cmd_demo(args: argparse.Namespace) -> None:
    """Generate a small city, land it, start Trino, run the notebooks, say what to do next."""
    from citylake.trino import client

    from citylake.spark import spark_session
    from jobs.landing.job import land_inbox

    cmd_setup(args)
    cmd_generate(args)
    # The generated city's deliveries arrive in two waves: the inbox, then what came late
    # (re-sent, replayed, gap-filling packages); after that the held packages can land.
    inbox = profile().path("inbox")
    late = profile().path("city") / "late_inbox"
    entries = []
    for wave in (inbox, late, inbox) if late.is_dir() else (inbox,):
        entries += land_inbox(spark_session(), wave)
    console.print(landing_summary(entries))
    cmd_integrate(argparse.Namespace(resource=[]))
    cmd_base(args)
    cmd_theme(argparse.Namespace(force=False))
    cmd_warn(args)
    cmd_catalog(args)
    cmd_trino(argparse.Namespace(action="start"))
    result = client.run_query(profile(), "SELECT count(*) FROM lake.raw.psb_household_registration")
    console.print(f"\nSELECT count(*) FROM lake.raw.psb_household_registration  →  {result[0][0]}")
    cmd_notebooks(args)
    console.print(next_steps())


def next_steps() -> str:
    settings = profile()
    address = f"http://{settings.trino.host}:{settings.trino.port}"
    return f"""
[bold]citylake is running.[/bold]
  Trino        {address}  (catalog {settings.trino.catalog}, user {settings.trino.user}, no password on this machine)
    shell      .venv/bin/citylake sql "SHOW TABLES FROM lake.raw"   or   .venv/bin/citylake trino cli
    DBeaver    new Trino connection: host {settings.trino.host}, port {settings.trino.port}, user {settings.trino.user}
    Python     from citylake.trino.client import query_df; query_df("SELECT ...")
  Dashboards   {settings.path('dashboards')}/*.html  (open in a browser; works offline)
  Dictionary   {settings.path('docs')}/index.html  (every table, its columns and lineage; works offline)
  JupyterLab   .venv/bin/citylake lab   (from citylake.lab import spark, trino)
  Stop Trino   .venv/bin/citylake trino stop
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citylake", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the jobs do")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("setup", help=cmd_setup.__doc__).set_defaults(func=cmd_setup)

    from citylake.synthetic.generator import DEFAULT_START

    def city_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--persons", type=int, default=2000, help="persons in the city (default 2000)")
        sub.add_argument("--days", type=int, default=30, help="days of deliveries after the first (default 30)")
        sub.add_argument("--seed", type=int, default=42)
        sub.add_argument("--start", default=DEFAULT_START.isoformat(),
                         help=f"first delivery date (ISO, default {DEFAULT_START.isoformat()})")
        sub.add_argument("--out", help="output folder (default: the profile's paths.city)")

    generate = commands.add_parser("generate", help=cmd_generate.__doc__)
    city_options(generate)
    generate.set_defaults(func=cmd_generate)

    land = commands.add_parser("land", help=cmd_land.__doc__)
    land.add_argument("--inbox", help="inbox folder (default: the profile's paths.inbox)")
    land.set_defaults(func=cmd_land)

    integrate = commands.add_parser("integrate", help=cmd_integrate.__doc__)
    integrate.add_argument("resource", nargs="*", help="<department>.<resource> to integrate (default: all)")
    integrate.set_defaults(func=cmd_integrate)

    commands.add_parser("base", help=cmd_base.__doc__).set_defaults(func=cmd_base)
    theme = commands.add_parser("theme", help=cmd_theme.__doc__)
    theme.add_argument("--force", action="store_true", help="rebuild every table even if its inputs did not change")
    theme.set_defaults(func=cmd_theme)
    commands.add_parser("warn", help=cmd_warn.__doc__).set_defaults(func=cmd_warn)

    corrections = commands.add_parser("corrections", help=cmd_corrections.__doc__)
    corrections.add_argument("department", nargs="*", help="departments (default: every one with open corrections)")
    corrections.add_argument("--out", help="output folder (default: <var>/corrections)")
    corrections.set_defaults(func=cmd_corrections)

    commands.add_parser("catalog", help=cmd_catalog.__doc__).set_defaults(func=cmd_catalog)

    release = commands.add_parser("release", help=cmd_release.__doc__)
    release.add_argument("resource", help="<department>.<resource>, e.g. psb.household_registration")
    release.add_argument("batch_id")
    release.add_argument("--reason", required=True, help="why the operator releases it (kept in the ledger)")
    release.set_defaults(func=cmd_release)

    warn_parser = commands.add_parser("warnings", help=cmd_warnings.__doc__)
    warn_actions = warn_parser.add_subparsers(dest="action", required=True)
    warn_list = warn_actions.add_parser("list", help="the warnings: open ones first, then by severity")
    warn_list.add_argument("--status", choices=["new", "acknowledged", "closed", "open"])
    warn_list.add_argument("--rule", help="one rule's warnings (a rule of conf/warnings.yml)")
    warn_list.add_argument("--district", help="district code or (part of) its name")
    for action, what in (("ack", "acknowledge a new warning: someone is on it"), ("close", "close an open warning")):
        change = warn_actions.add_parser(action, help=what)
        change.add_argument("warning_id", help="<rule>:<subject>, as listed")
        change.add_argument("--by", help="who you are")
        change.add_argument("--reason", help="why (kept in lake.app.warning_history)")
    warn_parser.set_defaults(func=cmd_warnings)

    trino = commands.add_parser("trino", help="start, stop or show the local Trino server")
    trino.add_argument("action", choices=["start", "stop", "status", "cli"])
    trino.set_defaults(func=lambda a: sys.exit(run_trino_cli([])) if a.action == "cli" else cmd_trino(a))

    sql = commands.add_parser("sql", help=cmd_sql.__doc__)
    sql.add_argument("statement")
    sql.add_argument("--format", default="ALIGNED", help="Trino CLI output format (ALIGNED, CSV_HEADER, JSON, ...)")
    sql.set_defaults(func=cmd_sql)

    notebooks = commands.add_parser("notebooks", help="execute the notebooks and export HTML dashboards")
    notebooks.add_argument("--district", help="a district's code or name (default: the whole city)")
    notebooks.add_argument("--as-of", help="the last day of data shown, ISO (default: the latest)")
    notebooks.set_defaults(func=cmd_notebooks)

    lab = commands.add_parser("lab", help=cmd_lab.__doc__)
    lab.add_argument("--port", type=int, default=8888, help="port on 127.0.0.1 (default 8888)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.set_defaults(func=cmd_lab)

    demo = commands.add_parser("demo", help=cmd_demo.__doc__)
    city_options(demo)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    if args.verbose:
        from citylake.child_output import show_child_output

        show_child_output()
    try:
        args.func(args)
    except ConfigError as exc:
        console.print(f"[red]configuration error[/red]\n{exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
