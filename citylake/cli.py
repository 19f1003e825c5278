"""The `citylake` command: set up, generate a city, land it, run Trino and the notebooks."""

from __future__ import annotations

import argparse
import json
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
    from synthetic import generate_city

    out = Path(args.out) if args.out else profile().path("city")
    summary = generate_city(out, persons=args.persons, days=args.days, seed=args.seed, start=city_start(args))
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
            run = warn(spark_session(), force=args.force)
    except NothingLanded as nothing:
        console.print(f"[yellow]warn:[/yellow] {nothing}")
        sys.exit(1)
    if run.up_to_date:
        console.print(f"warnings as of {run.as_of}: up to date (no rule's inputs have changed since the last "
                      "evaluation; --force evaluates anyway)")
        return
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


def cmd_run(args: argparse.Namespace) -> None:
    """The daily run: land, integrate, base, theme, warnings, catalog, audit, dashboards, with a ledger."""
    from citylake.spark import spark_session
    from jobs.run.job import NothingToResume, run_day
    from jobs.run.lock import LakeBusy

    def show(step, attempt) -> None:
        if attempt.outcome == "running":
            console.print(f"[bold]{step}[/bold] (attempt {attempt.attempt}) ...")
        else:
            colour = "green" if attempt.outcome == "succeeded" else "red"
            took = (attempt.ended_at - attempt.started_at).total_seconds()
            console.print(f"  [{colour}]{attempt.outcome}[/{colour}] in {took:.0f} s: "
                          f"{attempt.detail or attempt.error or ''}", soft_wrap=True)

    try:
        report = run_day(spark_session(), date.fromisoformat(args.date) if args.date else None,
                         resume=args.resume, only=args.step or None,
                         inboxes=[Path(inbox) for inbox in args.inbox] or None, progress=show,
                         run_id=getattr(args, "run_id", None))
    except (LakeBusy, NothingToResume) as refused:
        console.print(f"[yellow]run:[/yellow] {refused}")
        sys.exit(1)
    if report.resumed_past:
        console.print(f"resumed run {report.run_id}: {', '.join(report.resumed_past)} had finished")
    for late in report.late:
        console.print(f"[yellow]late[/yellow] {late.resource} {late.name}: {late.cycle} delivery due "
                      f"{late.due_at:%Y-%m-%d %H:%M}, latest extract {late.last_extracted_at:%Y-%m-%d %H:%M}")
    if not report.succeeded:
        console.print(f"[red]run {report.run_id} stopped at {report.failed_step}[/red]; "
                      "fix the cause, then: citylake run --resume")
        sys.exit(1)
    console.print(f"run {report.run_id} for {report.run_date} finished: {len(report.attempts)} steps")


def cmd_status(args: argparse.Namespace) -> None:
    """The last daily runs, their steps, and each resource's freshness."""
    from citylake.catalog import load_catalog
    from citylake.schedule import load_daily_run
    from citylake.spark import spark_session
    from jobs.run.status import lake_status

    catalog = load_catalog()
    runs, fresh, holder = lake_status(spark_session(), catalog, load_daily_run(catalog.conf_dir),
                                      profile().path("var"), args.runs)
    console.print(f"the lake is held by {holder}" if holder else "no run holds the lake")
    table = Table(title="Last runs")
    for column in ("run", "outcome", "started", "step", "attempt", "outcome ", "seconds", "rows in", "rows out", "detail"):
        table.add_column(column, overflow="fold")
    for summary in runs:
        first = True
        for step in summary.steps or [None]:
            took = f"{(step.ended_at - step.started_at).total_seconds():.0f}" if step and step.ended_at else ""
            table.add_row(summary.run_id if first else "", summary.outcome if first else "",
                          f"{summary.started_at:%Y-%m-%d %H:%M}" if first else "",
                          *(step and (step.step, str(step.attempt), step.outcome, took, f"{step.rows_in or 0:,}",
                                      f"{step.rows_out or 0:,}", step.detail or step.error or "") or [""] * 7))
            first = False
    console.print(table if runs else "no daily run yet (citylake run)")
    late = [f for f in fresh if f.state != "on time"]
    console.print(f"freshness: {len(fresh) - len(late)} of {len(fresh)} resources on time")
    for item in late:
        due = f", due {item.due_at:%Y-%m-%d %H:%M}" if item.due_at else ""
        console.print(f"  [yellow]{item.state}[/yellow] {item.resource} {item.name} ({item.cycle}{due})")


def cmd_scheduler(args: argparse.Namespace) -> None:
    """Start the daily run on the schedule of conf/schedule.yml until stopped (Ctrl-C, SIGTERM)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from citylake.schedule import load_daily_run
    from jobs.run.scheduler import daily_trigger, scheduler_for

    daily = load_daily_run()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", force=True)
    scheduler = scheduler_for(daily)
    upcoming = daily_trigger(daily).get_next_fire_time(None, datetime.now(ZoneInfo(daily.schedule.time_zone)))
    console.print(f"daily run at '{daily.schedule.cron}' ({daily.schedule.time_zone}); next: {upcoming}")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass


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


def cmd_audit(args: argparse.Namespace) -> None:
    """The query audit: receive Trino's query events, load them into lake.ops.query_audit, or show its state."""
    from citylake.audit import receiver
    from citylake.audit.settings import audit_settings, spool_dir
    from citylake.audit.spool import Spool

    settings = profile()
    if args.action == "receive":
        state = receiver.read_state(settings)
        port = args.port if args.port is not None else (state.port if state else audit_settings().receiver.port)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", force=True)
        receiver.serve(audit_settings().receiver.host, port, spool_dir(settings), receiver.state_file(settings),
                       audit_settings().receiver.max_event_bytes)
    elif args.action == "load":
        from citylake.spark import spark_session
        from jobs.audit.job import load

        result = load(spark_session(settings), settings)
        console.print(f"{result.events} events of {result.queries} queries from {result.segments} spool segment(s): "
                      f"{result.inserted} new in lake.ops.query_audit, {result.completed} completed"
                      + (f"; lake.ops.table_usage rebuilt ({result.usage_rows} rows)" if result.usage_rows is not None
                         else "") + (f"; {result.broken_lines} cut line(s) skipped" if result.broken_lines else ""))
    else:
        state = receiver.read_state(settings)
        pending = Spool(spool_dir(settings)).pending()
        console.print(f"receiver: {'receiving at ' + state.url if receiver.is_receiving(state) else 'not running'}"
                      f"\nspool: {len(pending)} segment(s) waiting, {sum(p.stat().st_size for p in pending)} bytes "
                      f"({spool_dir(settings)})")


def cmd_assess(args: argparse.Namespace) -> None:
    """Score every department's sharing performance per month (共享绩效考核) into lake.ops.share_assessment."""
    from citylake.spark import spark_session
    from jobs.assess.job import MonthNotAssessable, NothingToAssess, assess

    try:
        with console.status("sharing performance assessment"):
            done = assess(spark_session(), month=args.month, force=args.force)
    except (NothingToAssess, MonthNotAssessable) as refused:
        console.print(f"[yellow]assess:[/yellow] {refused}")
        sys.exit(1)
    months = f"{done.months[0]} to {done.months[-1]}" if len(done.months) > 1 else done.months[0]
    console.print(f"lake.ops.share_assessment: {months}, "
                  + ("up to date" if done.up_to_date else f"{done.rows} rows written in {done.seconds:.0f} s"))
    for note in done.notes:
        console.print(f"[yellow]note[/yellow] {note}")
    table = Table(title=f"共享绩效考核 Sharing performance, {done.months[-1]}")
    for column, justify in (("rank", "right"), ("department", "left"), ("total", "right"), ("change", "right")):
        table.add_column(column, justify=justify)
    for rank, name, total, change in done.ranking:
        table.add_row(str(rank), name, f"{total:.2f}", "" if change is None else f"{change:+.2f}")
    console.print(table)


def month_argument(value: str) -> date:
    """A `YYYY-MM` command-line month as its first day."""
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a month like 2026-03") from None


def cmd_maintain(args: argparse.Namespace) -> None:
    """Compact small files (Z-ordered on lookup keys), purge deletion vectors, vacuum old files; no row changes."""
    from citylake.spark import spark_session
    from jobs.maintain.job import maintain

    try:
        with console.status("table maintenance"):
            done = maintain(spark_session(), args.table, dry_run=args.dry_run)
    except ValueError as refused:
        console.print(f"[red]maintain:[/red] {refused}")
        sys.exit(2)
    table = Table(title=("would do" if args.dry_run else "maintained")
                  + f" (vacuum retention {done.retention_hours:g} h)")
    for column in ("table", "files", "after", "vacuumed", "why"):
        table.add_column(column)
    for each in done.changed:
        table.add_row(each.plan.name, str(each.files_before), str(each.files_after), str(each.vacuumed_files),
                      "; ".join(each.plan.reasons))
    console.print(table if done.changed else f"{len(done.tables)} tables: nothing to do")


def cmd_share(args: argparse.Namespace) -> None:
    """Request, answer and list shares of lake tables (有条件共享); every change reaches Trino's rules at once."""
    from citylake.spark import spark_session
    from jobs.share import requests as share

    spark = spark_session()
    try:
        if args.action == "request":
            row = share.request(spark, args.by, args.table, args.purpose, date.fromisoformat(args.until),
                                columns=args.columns.split(",") if args.columns else None, cleartext=args.cleartext)
            console.print(f"{row['request_id']}: {row['status']} ({row['sharing']}); owner "
                          f"{row['owner']} replies by {row['reply_due']}")
        elif args.action in ("approve", "reject", "revoke"):
            row = getattr(share, args.action)(spark, args.request_id, args.by, args.reason or "")
            console.print(f"{row['request_id']}: {row['status']} by {row['answered_by']}")
        elif args.action == "expire":
            console.print(f"expired: {', '.join(share.expire(spark)) or 'none'}")
        else:
            today = date.today()
            frame = share.list_requests(spark, args.status, today if args.overdue else None)
            console.print(share_table(frame, today) if len(frame) else "no share requests")
    except share.ShareError as exc:
        console.print(f"[red]{exc}[/red]")
        sys.exit(2)


def share_table(frame, today: date) -> Table:
    table = Table("request", "by (consumer)", "table", "columns", "status", "until", "reply due", "answered")
    for row in frame.to_dict("records"):
        overdue = row["status"] == "pending" and row["reply_due"] < today
        columns = ", ".join(row["columns"]) if row["columns"] is not None and len(row["columns"]) else "all"
        table.add_row(row["request_id"], f"{row['requested_by']} ({row['consumer_name']})", row["table_name"],
                      columns + (" (clear text)" if row["cleartext"] else ""), row["status"], str(row["until"]),
                      f"[red]{row['reply_due']} overdue[/red]" if overdue else str(row["reply_due"]),
                      f"{row['answered_by'] or ''} {row['reason'] or ''}".strip())
    return table


def cmd_exchange(args: argparse.Namespace) -> None:
    """Exchange with other levels: report to the province (报送), back-flow to a district (回流), open data (开放)."""
    from citylake.spark import spark_session
    from jobs.exchange.package import ExchangeError

    spark = spark_session()
    try:
        if args.action in ("report", "backflow"):
            if args.action == "report":
                from jobs.exchange.report import report

                sent, missing = report(spark, args.resource, resend=args.resend), []
            else:
                from jobs.exchange.backflow import backflow

                sent, missing = backflow(spark, args.district, resend=args.resend)
            what = "sent" if sent.recorded else "already sent, nothing new (--resend to send again)"
            console.print(f"{sent.written.package_id}: {sent.written.rows} rows, {what}\n  {sent.written.folder}",
                          soft_wrap=True)
            for name in missing:
                console.print(f"  [yellow]left out[/yellow] {name}: not built yet")
        elif args.action == "receipts":
            from jobs.exchange.report import read_receipts

            outcomes = read_receipts(spark)
            for outcome in outcomes:
                colour = "red" if outcome.outcome == "refused" else "green"
                console.print(f"[{colour}]{outcome.file}: {outcome.outcome}[/{colour}] {outcome.reason}", soft_wrap=True)
            console.print(f"{len(outcomes)} receipt(s) read" if outcomes else "no receipts waiting")
            if any(outcome.outcome == "refused" for outcome in outcomes):
                sys.exit(1)
        else:
            from jobs.exchange.open_data import publish_open_data
            from jobs.exchange.settings import open_dir

            published, missing = publish_open_data(spark)
            for item in published:
                console.print(f"{item.resource}: {item.written.rows} rows, {'published' if item.new else 'unchanged'}")
            for name in missing:
                console.print(f"  [yellow]left out[/yellow] {name}: not integrated yet")
            console.print(f"index: {open_dir() / 'index.json'}", soft_wrap=True)
    except (ExchangeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        console.print(f"[red]{exc}[/red]")
        sys.exit(2)


def cmd_trino(args: argparse.Namespace) -> None:
    from citylake.trino import client, server

    settings = profile()
    if args.action == "start":
        info = server.start(settings)
        synced = client.sync_catalog(settings)
        console.print(f"Trino {info['nodeVersion']['version']} answers at {server.address(settings)} (HTTPS, "
                      f"password logins); tables registered: {len(synced['registered'])}")
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


def run_trino_cli(extra: list[str], java_options: list[str] = (), user: str | None = None) -> int:
    import os

    from citylake.trino import security, server

    settings = profile()
    user = user or settings.trino.user
    java = server.java_home(settings) / "bin" / "java"
    # the CLI's terminal library loads native code, which Java 24+ warns about unless allowed
    command = [str(java), "--enable-native-access=ALL-UNNAMED", *java_options, "-jar", str(server.install_cli(settings)),
               f"--server={server.address(settings)}", f"--user={user}", "--password",
               f"--truststore-path={security.certificate_path(settings)}", f"--catalog={settings.trino.catalog}", *extra]
    # the CLI reads the password from TRINO_PASSWORD, never from its command line (ps shows that)
    return subprocess.call(command, env=dict(os.environ, TRINO_PASSWORD=security.password_of(settings, user)))


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
    """Generate a small city, start Trino, run the daily chain on it (land to dashboards), say what to do next."""
    from datetime import timedelta

    from citylake.trino import client

    cmd_setup(args)
    demo_logins()
    if city_already_generated(args):
        console.print(f"the city in {profile().path('city')} has these parameters already: kept, not generated again")
    else:
        cmd_generate(args)
    cmd_trino(argparse.Namespace(action="start"))
    # The generated city's deliveries arrive in two waves: the inbox, then what came late
    # (re-sent, replayed, gap-filling packages); after that the held packages can land.
    inbox, late = profile().path("inbox"), profile().path("city") / "late_inbox"
    waves = [inbox, late, inbox] if late.is_dir() else [inbox]
    last_day = city_start(args) + timedelta(days=args.days)
    cmd_run(argparse.Namespace(date=last_day.isoformat(), resume=False, step=None, inbox=[str(w) for w in waves]))
    result = client.run_query(profile(), "SELECT count(*) FROM lake.raw.psb_household_registration")
    console.print(f"\nSELECT count(*) FROM lake.raw.psb_household_registration  →  {result[0][0]}")
    console.print(next_steps())


def city_start(args: argparse.Namespace) -> date:
    """The city's first delivery date: --start, else the generator's (imported only when a city is made)."""
    if args.start:
        return date.fromisoformat(args.start)
    from synthetic import DEFAULT_START

    return DEFAULT_START


def city_already_generated(args: argparse.Namespace) -> bool:
    """Whether the profile's city folder holds a city generated with these parameters: a demo run
    again keeps it, since generating it again would re-date every package for landing to re-check."""
    described = profile().path("city") / "city.json"
    if args.out or not described.is_file():
        return False
    notes = json.loads(described.read_text(encoding="utf-8"))
    wanted = {"persons": args.persons, "days": args.days, "seed": args.seed, "start": city_start(args).isoformat()}
    return all(notes.get(key) == value for key, value in wanted.items())


def demo_logins() -> None:
    """The demo's users get generated passwords (kept in the git-ignored secrets file)."""
    from citylake.sharing import load_policy
    from citylake.trino import security

    security.ensure_passwords(profile(), load_policy(), generate=True)


def logins_table() -> Table:
    from citylake.trino import security

    table = Table("user", "role", "for", "password")
    for user, role, consumer, password in security.login_lines(profile()):
        table.add_row(user, role, consumer, password)
    return table


def next_steps() -> str:
    from citylake.trino import security, server

    settings = profile()
    address = server.address(settings)
    console.print("\n[bold]Trino logins[/bold] (one user per role; passwords in "
                  f"{security.secrets_path(settings)}, git-ignored):")
    console.print(logins_table())
    certificate = security.certificate_path(settings)
    return f"""
[bold]citylake is running.[/bold]
  Trino        {address}  (HTTPS, catalog {settings.trino.catalog}; log in as a user above with its password)
    shell      .venv/bin/citylake sql "SHOW TABLES FROM lake.theme"   or   .venv/bin/citylake trino cli
    DBeaver    new Trino connection: host {settings.trino.host}, port {settings.trino.port}, user and password above,
               driver properties SSL=true, SSLTrustStorePath={certificate}
    Python     from citylake.trino.client import query_df; query_df("SELECT ...", user="demo_analyst")
  Dashboards   {settings.path('dashboards')}/*.html  (open in a browser; works offline)
  Dictionary   {settings.path('docs')}/index.html  (every table, its columns and lineage; works offline)
  JupyterLab   .venv/bin/citylake lab   (from citylake.lab import spark, trino)
  Daily run    .venv/bin/citylake run   (status: citylake status; on a schedule: citylake scheduler)
  Stop Trino   .venv/bin/citylake trino stop
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citylake", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the jobs do")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("setup", help=cmd_setup.__doc__).set_defaults(func=cmd_setup)

    def city_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--persons", type=int, default=2000, help="persons in the city (default 2000)")
        sub.add_argument("--days", type=int, default=30, help="days of deliveries after the first (default 30)")
        sub.add_argument("--seed", type=int, default=42)
        sub.add_argument("--start", help="first delivery date (ISO, default: the generator's first day)")
        sub.add_argument("--out", help="output folder (default: the profile's paths.city)")

    generate = commands.add_parser("generate", help=cmd_generate.__doc__)
    city_options(generate)
    generate.set_defaults(func=cmd_generate)

    run = commands.add_parser("run", help=cmd_run.__doc__)
    run.add_argument("--date", help="the run's business day (ISO; default today in the schedule's time zone)")
    run.add_argument("--resume", action="store_true", help="continue the latest unfinished run from its failed step")
    run.add_argument("--step", action="append", help="run only this step (repeatable)")
    run.add_argument("--run-id", help="the run's id (default: its day and number that day); an outside "
                                      "scheduler gives its steps one id")
    run.add_argument("--inbox", action="append", default=[],
                     help="land from this folder (repeatable, in order; default: the profile's paths.inbox)")
    run.set_defaults(func=cmd_run)
    status = commands.add_parser("status", help=cmd_status.__doc__)
    status.add_argument("--runs", type=int, default=5, help="how many runs to show (default 5)")
    status.set_defaults(func=cmd_status)
    commands.add_parser("scheduler", help=cmd_scheduler.__doc__).set_defaults(func=cmd_scheduler)

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
    warn = commands.add_parser("warn", help=cmd_warn.__doc__)
    warn.add_argument("--force", action="store_true", help="evaluate even if no rule's inputs have changed")
    warn.set_defaults(func=cmd_warn)

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
    trino.add_argument("--user", help="cli: log in as this user (default: the platform's own)")
    trino.set_defaults(func=lambda a: sys.exit(run_trino_cli([], user=a.user)) if a.action == "cli" else cmd_trino(a))

    audit = commands.add_parser("audit", help=cmd_audit.__doc__)
    audit.add_argument("action", choices=["load", "receive", "status"],
                       help="load: spooled events into the lake; receive: run the receiver in the foreground")
    audit.add_argument("--port", type=int, help="receive: port to listen on (default: the recorded or configured one)")
    audit.set_defaults(func=cmd_audit)

    assess = commands.add_parser("assess", help=cmd_assess.__doc__)
    assess.add_argument("--month", type=month_argument, help="assess this month only (YYYY-MM); default: every month")
    assess.add_argument("--force", action="store_true", help="assess again even if nothing changed")
    assess.set_defaults(func=cmd_assess)

    maintain = commands.add_parser("maintain", help=cmd_maintain.__doc__)
    maintain.add_argument("--table", action="append", help="only this lake table, e.g. integrated.psb_household_registration "
                          "(repeatable)")
    maintain.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    maintain.set_defaults(func=cmd_maintain)

    share = commands.add_parser("share", help=cmd_share.__doc__)
    share_actions = share.add_subparsers(dest="action", required=True)
    asked = share_actions.add_parser("request", help="ask for a table for a purpose until a day")
    asked.add_argument("table", help="<layer>.<table>, e.g. base.population")
    asked.add_argument("--by", required=True, help="your user name (conf/sharing.yml)")
    asked.add_argument("--purpose", required=True, help="what the data is for")
    asked.add_argument("--until", required=True, help="last day of use, ISO (YYYY-MM-DD)")
    asked.add_argument("--columns", help="comma-separated columns (default: all)")
    asked.add_argument("--cleartext", action="store_true", help="the personal columns in clear, not masked")
    for action, what in (("approve", "approve a pending request"), ("reject", "reject a pending request"),
                         ("revoke", "revoke an approval")):
        answer = share_actions.add_parser(action, help=what)
        answer.add_argument("request_id")
        answer.add_argument("--by", required=True, help="your user name: the owner department's (or an admin)")
        answer.add_argument("--reason", required=action != "approve", help="why")
    listed = share_actions.add_parser("list", help="the requests, newest first")
    listed.add_argument("--status", choices=["pending", "approved", "rejected", "revoked", "expired"])
    listed.add_argument("--overdue", action="store_true", help="only pending requests past their reply day")
    share_actions.add_parser("expire", help="end the approvals whose day is past (any share command does too)")
    share.set_defaults(func=cmd_share)

    exchange = commands.add_parser("exchange", help=cmd_exchange.__doc__)
    exchange_actions = exchange.add_subparsers(dest="action", required=True)
    reported = exchange_actions.add_parser("report", help="write the province's package of a resource (报送)")
    reported.add_argument("resource", help="a catalog resource (psb.household_registration) or base/theme table")
    reported.add_argument("--resend", action="store_true", help="send the same package again (recorded again)")
    flowed = exchange_actions.add_parser("backflow", help="write a district's own rows, masked per its rights (回流)")
    flowed.add_argument("district", help="district code or name (350502, 鲤城区, Licheng)")
    flowed.add_argument("--resend", action="store_true", help="send the same package again (recorded again)")
    exchange_actions.add_parser("receipts", help="read the province's receipts back and record them")
    exchange_actions.add_parser("open", help="publish the unconditional resources as open data under var/open")
    exchange.set_defaults(func=cmd_exchange)

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
