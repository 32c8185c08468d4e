"""The `zhian` command: serve, database upgrades and administration."""

from __future__ import annotations

import errno
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import NoReturn

import click
import sqlalchemy as sa
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from api.logs import setup_logging
from api.settings import Settings
from memory import access, db, store
from memory.errors import InvalidInput, NotFound, ZhianError
from memory.models import LANGUAGES, Role, utcnow

err = Console(stderr=True)


def _setup_logging(verbose: bool = False) -> None:
    try:
        log_format = Settings().log_format
    except ValidationError:  # said in plain words when the command reads its settings
        log_format = "auto"
    setup_logging(log_format, verbose=verbose)


def _can_write(folder: Path) -> bool:
    probe = folder / f".zhian-write-check-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except PermissionError:
        return False
    return True


def _data_dir(settings: Settings) -> Path:
    """The data directory, made if need be; a folder zhian can write, or a reason to stop."""
    folder = settings.data_dir
    if folder.exists() and not folder.is_dir():
        _fail(
            f"The data directory {folder} is a file, not a folder: set ZHIAN_DATA_DIR to a "
            "folder (or move the file away)."
        )
    try:
        settings.ensure_data_dir()
    except (FileExistsError, NotADirectoryError):
        _fail(
            f"The data directory {folder} cannot be made, as part of its path is a file: set "
            "ZHIAN_DATA_DIR to a folder."
        )
    except PermissionError:
        _cannot_write(folder)
    if not _can_write(folder):
        _cannot_write(folder)
    return folder


def _cannot_write(folder: Path) -> None:
    _fail(
        f"zhian may not write in its data directory {folder.resolve()}: give the user running "
        "zhian write access to it, or set ZHIAN_DATA_DIR to a folder it can write."
    )


def _engine(settings: Settings) -> sa.Engine:
    _data_dir(settings)
    return db.make_engine(settings.resolved_database_url)


def _admin_engine() -> sa.Engine:
    """An engine on a database whose schema is current, or a readable reason to stop."""
    engine = _engine(Settings())
    try:
        current, head = db.schema_status(engine)
    except sa.exc.OperationalError as exc:
        _fail(f"The database cannot be reached: {exc.orig}")
    if current != head:
        _fail(
            f"The database schema is at {current or 'nothing yet'}, this version needs {head}: "
            "run 'zhian db upgrade' first."
        )
    return engine


class Refusal(click.ClickException):
    """What the operator reads when a command cannot go on: one sentence, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        err.print(f"[red]Error:[/red] {escape(self.message)}")


def _fail(message: str) -> NoReturn:
    raise Refusal(message)


def _first_line(text: object) -> str:
    return (str(text).strip().splitlines() or [""])[0]


_SECRET_SETTINGS = ("password", "api_key", "database_url")


def _setting_problem(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    field = str(first["loc"][0]) if first.get("loc") else ""
    if exc.title != "Settings" or not field:
        return f"A value is not valid: {first['msg']}."
    name = f"ZHIAN_{field.upper()}"
    given = "" if any(s in field for s in _SECRET_SETTINGS) else f"={first.get('input')}"
    more = len(errors) - 1
    also = f" ({more} more setting{'s are' if more > 1 else ' is'} wrong too)" if more else ""
    return (
        f"The setting {name}{given} is not valid: {first['msg']}{also}; correct it in the "
        "environment or in .env."
    )


def _database_where() -> str:
    try:
        url = sa.engine.make_url(Settings().resolved_database_url)
    except Exception:  # noqa: BLE001 - only to say where
        return "the database"
    if url.get_backend_name() == "sqlite":
        return f"the database file {url.database}"
    return f"the database {url.render_as_string(hide_password=True)}"


def _database_problem(exc: sa.exc.DatabaseError) -> str:
    reason = _first_line(exc.orig if exc.orig is not None else exc)
    where = _database_where()
    if "file is not a database" in reason or "malformed" in reason:
        return (
            f"{where.capitalize()} is damaged or is not a database ({reason}): restore it from "
            "a backup, or move it away to start with an empty one."
        )
    if "readonly" in reason or "unable to open" in reason:
        return (
            f"zhian cannot open or write {where} ({reason}): give the user running zhian "
            "write access to it and to its folder."
        )
    return (
        f"{where.capitalize()} cannot be used ({reason}): check ZHIAN_DATABASE_URL and that "
        "the database server is running."
    )


def in_plain_words(exc: Exception) -> str:
    """One sentence saying what went wrong and what to do about it."""
    if isinstance(exc, ZhianError):
        return exc.message
    if isinstance(exc, ValidationError):
        return _setting_problem(exc)
    if isinstance(exc, sa.exc.DatabaseError):
        return _database_problem(exc)
    if isinstance(exc, PermissionError):
        return (
            f"zhian may not use {exc.filename or 'a file it needs'}: give the user running "
            "zhian access to it, or set ZHIAN_DATA_DIR to a folder it can write."
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "The disk is full: free some space (or set ZHIAN_DATA_DIR to a larger disk)."
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}; check it, or ZHIAN_DATA_DIR."
    return (
        f"zhian stopped on an unexpected error ({type(exc).__name__}: {_first_line(exc)}); run "
        "it again with --verbose to see where, and report it."
    )


class _Zhian(click.Group):
    """Every failure ends in one sentence and a non-zero exit; the traceback too with
    --verbose."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - said in the operator's terms below
            if ctx.params.get("verbose"):
                err.print_exception()
            raise Refusal(in_plain_words(exc)) from exc


@click.group(
    cls=_Zhian, help="智安 zhian: an AI companion with long-term memory for elderly people."
)
@click.option("--verbose", is_flag=True, help="Log more detail, and show where a failure happened.")
def main(verbose: bool) -> None:
    _setup_logging(verbose)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="API worker processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Run the service: upgrades the database, then serves the API and pages."""
    import uvicorn

    settings = Settings()
    if workers > 1 and settings.vector_index == "embedded":
        _fail(
            "The embedded vector index serves one worker process. For more workers, run a Chroma "
            "server ('chroma run --path DIR --port 8001') and set ZHIAN_VECTOR_INDEX=http://host:8001."
        )
    engine = _engine(settings)
    db.upgrade(engine)
    url = (
        settings.public_url or f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    )
    with db.session_scope(engine) as session:
        first_token = None
        if not access.any_admin_exists(session):
            admin = access.create_account(session, role=Role.admin, display_name="Administrator")
            first_token = access.issue_token(session, admin, label="first start").secret
    engine.dispose()
    _prepare_language_model(settings)
    click.echo(f"智安 zhian is starting at {url}  (API documentation: {url}/docs)")
    click.echo(f"Data directory: {settings.data_dir.resolve()}")
    if first_token:
        click.echo(
            "First start: an administrator token was made. It is shown only this once; keep it safe:"
        )
        click.echo(first_token)
    sys.stdout.flush()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
    )


def _prepare_language_model(settings: Settings) -> None:
    """Join the bundled model's file the first time, with a progress bar, before serving."""
    from companion.model_files import BUNDLED, ensure_model_file
    from memory.errors import LLMUnavailable

    if settings.llm == "none":
        click.echo("Language model: none (memory only; the companion does not reply)")
        return
    if settings.llm_base_url:
        click.echo(
            f"Language model: {settings.llm_model or 'the model'} at {settings.llm_base_url}"
        )
        return
    if settings.llm not in BUNDLED:
        _fail(
            f"ZHIAN_LLM={settings.llm} needs ZHIAN_LLM_BASE_URL (an OpenAI-compatible server, e.g. "
            "http://localhost:11434/v1 for Ollama), or use ZHIAN_LLM=embedded."
        )
    try:
        path = ensure_model_file(BUNDLED[settings.llm], settings.ensure_data_dir())
    except LLMUnavailable as exc:
        err.print(f"[yellow]The companion cannot talk yet:[/yellow] {exc.message}")
        return
    click.echo(f"Language model: {BUNDLED[settings.llm].title} ({path})")


def _base_url(settings: Settings) -> str:
    return (settings.public_url or "http://127.0.0.1:8000").rstrip("/")


@main.command()
@click.option("--tick", type=float, default=None, help="Seconds between ticks (default 10).")
def scheduler(tick: float | None) -> None:
    """Run the scheduler on its own (reminders, follow-ups, greetings, alerts, nightly jobs).
    Run two for a standby: one is active, the other takes over when it stops. Set
    ZHIAN_SCHEDULER_IN_PROCESS=false on the API servers then."""
    import signal
    import threading

    from api.app import make_scheduler
    from companion.llm import make_chat_model

    settings = Settings()
    if tick:
        settings = settings.model_copy(update={"scheduler_tick_seconds": tick})
    engine = _engine(settings)
    db.upgrade(engine)
    try:  # the model only writes the nightly day summaries; loaded when first needed
        model = settings.chat_model()
    except ZhianError as exc:
        err.print(f"[yellow]Day summaries from the elders' own words:[/yellow] {exc.message}")
        model = make_chat_model(provider="none", data_dir=settings.data_dir)
    runner = make_scheduler(settings, engine, model)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    runner.start()
    click.echo(
        f"Scheduler {runner.lease.holder} running: active when it holds the lease, standing by "
        f"otherwise (takeover within {settings.scheduler_lease_seconds + settings.scheduler_tick_seconds:.0f} s)."
    )
    stop.wait()
    runner.stop()
    click.echo("Scheduler stopped.")


@main.command()
@click.option("--elder", "elder_id", help="Only this elder's memories (default: everyone's).")
def reindex(elder_id: str | None) -> None:
    """Rebuild the vector index from the database. Interrupted, run it again: it resumes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from memory.embed import make_embedder
    from memory.index import IndexUnavailable, VectorIndex, validate_location
    from memory.indexer import drain, mark_all_pending, pending_count
    from memory.models import Elder

    settings = Settings()
    engine = _admin_engine()
    if elder_id is not None:
        with db.session_scope(engine) as session:
            if session.get(Elder, elder_id) is None:
                _fail(
                    f"There is no elder with id {elder_id}; 'zhian admin list-accounts' shows them."
                )
    index = VectorIndex(
        validate_location(settings.vector_index),
        make_embedder(settings.embedder, settings.embedder_model),
        data_dir=settings.data_dir,
    )
    marker = settings.ensure_data_dir() / (
        f"reindex-{index.collection_name}" + (f"-{elder_id}" if elder_id else "") + ".started"
    )
    try:
        if marker.exists():
            click.echo(f"Resuming the rebuild started {marker.read_text().strip()}.")
        else:
            index.clear(elder_id)
            marked = mark_all_pending(engine, elder_id)
            marker.write_text(utcnow().isoformat(timespec="seconds"))
            click.echo(f"Rebuilding {index.collection_name} from {marked} memories.")
        total = pending_count(engine, elder_id)
        columns = (
            *Progress.get_default_columns()[:1],
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("Indexing memories", total=total)
            done = drain(
                engine, index, elder_id=elder_id, on_progress=lambda n: progress.advance(task, n)
            )
    except IndexUnavailable as exc:
        _fail(f"{exc}. Nothing is lost: run 'zhian reindex' again when it is back, and it resumes.")
    marker.unlink(missing_ok=True)
    click.echo(f"Done: {done} memories indexed in {index.collection_name}.")


@main.command("import")
@click.option("--elder", "elder_id", required=True, help="The elder whose chat history it is.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["line", "whatsapp", "csv"]),
    required=True,
    help="line: LINE's saved chat (.txt); whatsapp: WhatsApp's exported chat (.txt); csv: "
    "a header row timestamp,sender,text.",
)
@click.option(
    "--as",
    "senders",
    multiple=True,
    metavar="NAME=elder|NAME=ACCOUNT_ID",
    help="Who a sender is: the elder, or a family account (its id). Once per sender.",
)
@click.option(
    "--keep-others", is_flag=True, help="Keep senders not named with --as as other speakers."
)
@click.option(
    "--date-order",
    type=click.Choice(["auto", "dmy", "mdy", "ymd"]),
    default="auto",
    show_default=True,
    help="How the file writes dates, if it cannot be told from the file (no day over 12).",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_chat(
    elder_id: str,
    fmt: str,
    senders: tuple[str, ...],
    keep_others: bool,
    date_order: str,
    file: Path,
) -> None:
    """Bring in a chat history exported from LINE or WhatsApp, or a CSV. The whole file is read
    and checked first, then written at once, or nothing is; importing it again adds nothing."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from companion import chat_imports

    engine = _admin_engine()
    content = file.read_bytes()
    with db.session_scope(engine) as session:
        scope = chat_imports.import_scope(session, chat_imports.OPERATOR, elder_id)
        mapping = chat_imports.prepare(session, scope, senders, date_order=date_order)
        request = chat_imports.ImportRequest(
            format=fmt,
            senders=mapping,
            keep_others=keep_others,
            date_order=date_order,
            filename=file.name,
        )
        job_id = chat_imports.create_job(session, scope, request).id
    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err) as progress:
        task = progress.add_task(f"Reading {file.name}", total=None)

        def show(phase: str, done: int, total: int) -> None:
            label = f"Reading {file.name}" if phase == "reading" else "Writing messages"
            progress.update(task, description=label, completed=done, total=total)

        job = chat_imports.run_job(engine, job_id, chat_imports.OPERATOR, content, on_progress=show)
    if job.status != "done":
        for problem in job.errors or []:
            err.print(f"  line {problem['line']}: {escape(problem['message'])}")
        _fail(job.error or "The import stopped; nothing was imported.")
    counts = job.counts or {}
    system = counts.get("system_lines") or {}
    skipped = ", ".join(f"{n} {kind}" for kind, n in sorted(system.items())) or "none"
    click.echo(
        f"Imported {counts.get('imported', 0)} messages from {file.name} "
        f"({counts.get('already_there', 0)} already there; system lines skipped: {skipped})."
    )
    for name in counts.get("mapped_but_not_in_file") or []:
        err.print(f"[yellow]Not in this file:[/yellow] {escape(name)} (given with --as)")


@main.command()
@click.option("--elder", "elder_id", help="Only this elder (default: everyone).")
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day to summarise, YYYY-MM-DD (default: yesterday in each elder's timezone).",
)
def consolidate(elder_id: str | None, day) -> None:
    """Rebuild each elder's profile from confirmed facts and summarise a day of conversation
    (the nightly job; by the language model when one is configured)."""
    from datetime import datetime as _datetime

    from rich.progress import Progress
    from sqlmodel import select

    from memory.access import elder_scope
    from memory.consolidate import build_profile, summarise_day
    from memory.models import Elder
    from memory.timeutil import zone

    settings = Settings()
    engine = _admin_engine()
    model = None
    try:
        model = settings.chat_model()
    except ZhianError as exc:
        err.print(f"[yellow]Summaries from the elders' own words:[/yellow] {exc.message}")
    with db.session_scope(engine) as session:
        elders = [session.get(Elder, elder_id)] if elder_id else list(session.exec(select(Elder)))
    if elders == [None]:
        _fail(f"No elder with id {elder_id}.")
    summaries = 0
    with Progress(console=err) as progress:
        task = progress.add_task("Consolidating", total=len(elders))
        for elder in elders:
            with db.session_scope(engine) as session:
                build_profile(session, elder_scope(session, elder.id))
                target = (
                    day.date()
                    if day
                    else (_datetime.now(zone(elder.timezone)) - timedelta(days=1)).date()
                )
                if (
                    summarise_day(session, elder_scope(session, elder.id), target, model)
                    is not None
                ):
                    summaries += 1
            progress.advance(task)
    click.echo(f"Done: {len(elders)} profiles rebuilt, {summaries} day summaries written.")


def _progress_steps(progress):  # type: ignore[no-untyped-def]
    """A `memory.backup` progress callback drawing one bar per step."""
    tasks: dict[str, object] = {}

    def report(step: str, done: int, total: int) -> None:
        if step not in tasks:
            tasks[step] = progress.add_task(step, total=total or None)
        progress.update(tasks[step], completed=done, total=total or None)

    return report


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    """Back up the database to FILE (a .tar.gz), safe while the service runs, with the
    vectors of a Chroma server's index (restore embeds the rest again)."""
    from rich.progress import Progress

    from memory.backup import create_backup

    settings = Settings()
    engine = _engine(settings)
    # A Chroma server serves many clients; the embedded index belongs to the running server's
    # process, and a second one opening it could disturb it: restore embeds those again.
    index = None if settings.vector_index == "embedded" else _index_for(settings)
    try:
        with Progress(console=err, transient=True) as progress:
            manifest = create_backup(engine, file, index=index, progress=_progress_steps(progress))
    except sa.exc.OperationalError as exc:
        _fail(f"The database cannot be reached: {exc.orig}")
    rows = manifest.counts
    carried = (manifest.vectors or {}).get("count", 0)
    click.echo(
        f"Backup written to {file}: {rows.get('elders', 0)} elders, {rows.get('messages', 0)} "
        f"messages, {rows.get('memories', 0)} memories, {carried} of their vectors (schema "
        f"{manifest.schema_revision})."
    )


def _index_for(settings: Settings):  # type: ignore[no-untyped-def]
    from memory.embed import make_embedder
    from memory.index import VectorIndex, validate_location

    return VectorIndex(
        validate_location(settings.vector_index),
        make_embedder(settings.embedder, settings.embedder_model),
        data_dir=settings.data_dir,
    )


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--no-index", is_flag=True, help="Leave the vector index for 'zhian serve' to rebuild."
)
def restore(file: Path, no_index: bool) -> None:
    """Restore a backup FILE into an empty data directory (ZHIAN_DATA_DIR), then fill the
    vector index (the vectors in the backup written back, the rest embedded). A directory
    that holds anything is refused."""
    from rich.progress import Progress

    from memory.backup import restore_backup
    from memory.index import IndexUnavailable

    settings = Settings()
    # Without --no-index: on a Chroma server the vectors are written over by memory id, so a
    # server the original service still uses is not emptied first.
    index = None if no_index else _index_for(settings)
    try:
        with Progress(console=err, transient=True) as progress:
            manifest = restore_backup(
                file,
                data_dir=settings.data_dir,
                database_url=settings.resolved_database_url,
                index=index,
                progress=_progress_steps(progress),
            )
    except IndexUnavailable as exc:
        _fail(f"{exc}. The database is restored: run 'zhian reindex' when the index is back.")
    click.echo(
        f"Restored the backup of {manifest.created_at} (zhian {manifest.zhian_version}, schema "
        f"{manifest.schema_revision}) into {settings.data_dir.resolve()}."
    )
    if index is None:
        click.echo("The vector index fills itself when 'zhian serve' starts.")
    else:
        click.echo(f"Done: the memories are indexed in {index.collection_name}.")


@main.group(name="db")
def db_group() -> None:
    """Database schema."""


@db_group.command()
def upgrade() -> None:
    """Bring the database schema up to date."""
    engine = _engine(Settings())
    db.upgrade(engine)
    current, _ = db.schema_status(engine)
    click.echo(f"The database schema is current (revision {current}).")


@db_group.command()
def status() -> None:
    """Show the schema revision the database is at and the one this version needs."""
    current, head = db.schema_status(_engine(Settings()))
    click.echo(f"database: {current or 'empty'}; this version: {head}")
    if current != head:
        sys.exit(1)


@main.group()
def admin() -> None:
    """Elders, accounts and tokens."""


@admin.command("create-elder")
@click.option("--name", required=True, help="The elder's full name.")
@click.option("--language", type=click.Choice(LANGUAGES), required=True, help="Main language.")
@click.option("--preferred-name", help="What the companion calls them.")
@click.option("--timezone", help="IANA timezone, e.g. Asia/Taipei (default: the server's).")
@click.option("--birthday", type=click.DateTime(formats=["%Y-%m-%d"]), help="YYYY-MM-DD")
def create_elder(
    name: str, language: str, preferred_name: str | None, timezone: str | None, birthday
) -> None:
    """Register an elder; prints the elder's id on the last line."""
    settings = Settings()
    try:
        with db.session_scope(_admin_engine()) as session:
            elder = store.create_elder(
                session,
                display_name=name,
                preferred_name=preferred_name,
                languages=[language],
                timezone=timezone or settings.default_timezone,
                birthday=birthday.date() if birthday else None,
            )
    except ZhianError as exc:
        _fail(exc.message)
    click.echo(f"Elder {name} registered.")
    click.echo(elder.id)


_ROLES = click.Choice([r.value for r in Role])


@admin.command("create-account")
@click.option("--role", type=_ROLES, required=True)
@click.option("--elder", "elder_id", help="The elder the account belongs to (all roles but admin).")
@click.option("--name", "display_name", help="How the person is shown, e.g. 美玲.")
@click.option("--relation", help="Their relation to the elder, e.g. daughter.")
@click.option("--guardian", is_flag=True, help="May grant and revoke access for the elder.")
def create_account(
    role: str, elder_id: str | None, display_name: str | None, relation: str | None, guardian: bool
) -> None:
    """Add an account; prints the account id on the last line."""
    try:
        with db.session_scope(_admin_engine()) as session:
            account = access.create_account(
                session,
                role=Role(role),
                display_name=display_name or _default_name(Role(role)),
                elder_id=elder_id,
                relation=relation,
                is_guardian=guardian,
            )
    except ZhianError as exc:
        _fail(exc.message)
    click.echo(f"{role.capitalize()} account {account.display_name} created.")
    click.echo(account.id)


def _default_name(role: Role) -> str:
    return {
        Role.admin: "Administrator",
        Role.family: "Family member",
        Role.creator: "Creator",
        Role.elder: "Elder",
    }[role]


def _account_for_token(session, role: Role, elder_id: str | None, account_id: str | None, name):
    if account_id:
        account = access.get_account(session, account_id)
        if account.role != role.value:
            raise InvalidInput(f"Account {account_id} is a {account.role}, not a {role.value}.")
        return account
    if role is Role.admin:
        existing = [a for a in access.list_accounts(session) if a.role == Role.admin.value]
        if existing and not name:
            return existing[0]
        return access.create_account(session, role=role, display_name=name or "Administrator")
    if not elder_id:
        raise InvalidInput(f"A {role.value} token needs --elder ID.")
    if role is Role.elder:
        account = access.elder_account(session, elder_id)
        if account is None:
            raise NotFound(f"No elder with id {elder_id}.")
        return account
    return access.create_account(
        session, role=role, display_name=name or _default_name(role), elder_id=elder_id
    )


@admin.command("create-token")
@click.option("--role", type=_ROLES, required=True)
@click.option("--elder", "elder_id", help="The elder (for elder, family and creator tokens).")
@click.option("--account", "account_id", help="An existing account to issue the token for.")
@click.option("--name", help="Name for a new family or creator account.")
@click.option("--label", help="A note on what the token is for, e.g. 'Mum's tablet'.")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), help="Default: never expires.")
def create_token(
    role: str,
    elder_id: str | None,
    account_id: str | None,
    name: str | None,
    label: str | None,
    expires_in_days: int | None,
) -> None:
    """Issue a token; prints the token alone on the last line.

    For --role family or creator without --account, a new account is made for the elder.
    """
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        with db.session_scope(_admin_engine()) as session:
            account = _account_for_token(session, Role(role), elder_id, account_id, name)
            issued = access.issue_token(session, account, label=label, expires_at=expires_at)
    except ZhianError as exc:
        _fail(exc.message)
    click.echo(
        f"Token {issued.token.id} for {role} account {account.display_name} ({account.id}); "
        "shown only this once:"
    )
    click.echo(issued.secret)


@admin.command("elder-link")
@click.argument("elder_id")
@click.option(
    "--label", default="elder link", show_default=True, help="A note, e.g. 'Mum's phone'."
)
@click.option("--expires-in-days", type=click.IntRange(1, 3650), help="Default: never expires.")
@click.option("--no-qr", is_flag=True, help="Print the link only.")
def elder_link(elder_id: str, label: str, expires_in_days: int | None, no_qr: bool) -> None:
    """Make the link the elder opens to talk with 智安 (a new token), with a QR code for a phone.

    The address comes from ZHIAN_PUBLIC_URL (default http://127.0.0.1:8000)."""
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        with db.session_scope(_admin_engine()) as session:
            account = _account_for_token(session, Role.elder, elder_id, None, None)
            issued = access.issue_token(session, account, label=label, expires_at=expires_at)
    except ZhianError as exc:
        _fail(exc.message)
    settings = Settings()
    if not settings.public_url:
        err.print(
            "[yellow]ZHIAN_PUBLIC_URL is not set:[/yellow] this link only opens on this computer. "
            "Set it to the address a phone can reach (e.g. https://zhian.example.org)."
        )
    link = f"{_base_url(settings)}/talk#token={issued.secret}"
    click.echo(
        f"The link for {account.display_name} (token {issued.token.id}); shown only this once:"
    )
    if not no_qr:
        import qrcode

        code = qrcode.QRCode(border=2)
        code.add_data(link)
        code.print_ascii(out=sys.stdout)
    click.echo(link)


@admin.command("family-link")
@click.argument("account_id")
@click.option("--label", default="family link", show_default=True, help="A note, e.g. 'Mei-hua'.")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), help="Default: never expires.")
def family_link(account_id: str, label: str, expires_in_days: int | None) -> None:
    """Make the link a family member (or creator) opens for the family dashboard (a new token).

    What they see there is what the elder or guardian granted them."""
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        with db.session_scope(_admin_engine()) as session:
            account = access.get_account(session, account_id)
            if account.role not in (Role.family.value, Role.creator.value):
                raise InvalidInput(
                    f"Account {account_id} is the {account.role}'s; the dashboard is for family "
                    "members and creators (the elder's link: zhian admin elder-link)."
                )
            issued = access.issue_token(session, account, label=label, expires_at=expires_at)
    except ZhianError as exc:
        _fail(exc.message)
    link = f"{_base_url(Settings())}/family#token={issued.secret}"
    click.echo(f"The dashboard link for {account.display_name}; shown only this once:")
    click.echo(link)


@admin.command("revoke-token")
@click.argument("token")
def revoke_token(token: str) -> None:
    """Revoke a token, given its id or the token itself."""
    try:
        with db.session_scope(_admin_engine()) as session:
            if token.startswith(access.TOKEN_PREFIX):
                found = access.token_by_secret(session, token)
            else:
                found = access.get_token(session, token)
            access.revoke_token(session, None, found)
    except ZhianError as exc:
        _fail(exc.message)
    click.echo(f"Token {found.prefix}… revoked.")


@admin.command("erase-elder")
@click.argument("elder_id")
@click.option("--confirm", required=True, help="The elder's name exactly as registered.")
def erase_elder(elder_id: str, confirm: str) -> None:
    """Erase an elder's whole record for good: every row and vector, their accounts and
    tokens; one audit record stays, without their words."""
    from memory.embed import make_embedder
    from memory.erase import erase_elder as erase
    from memory.index import VectorIndex, validate_location

    settings = Settings()
    engine = _admin_engine()
    index = VectorIndex(
        validate_location(settings.vector_index),
        make_embedder(settings.embedder, settings.embedder_model),
        data_dir=settings.data_dir,
    )
    operator = access.Caller(
        account_id="operator", role=Role.admin, display_name="operator (command line)"
    )
    try:
        with (
            err.status("Erasing, then compacting the database and the index…"),
            db.session_scope(engine) as session,
        ):
            scope = access.resolve_scope(session, operator, elder_id)
            done = erase(session, scope, confirm=confirm, index=index, data_dir=settings.data_dir)
    except ZhianError as exc:
        _fail(exc.message)
    click.echo(
        f"Erased: {sum(done.erased.values())} rows ({done.erased.get('messages', 0)} messages, "
        f"{done.erased.get('memories', 0)} memories); audit record {done.audit_id} kept."
    )


@admin.command("list-accounts")
@click.option("--elder", "elder_id", help="Only this elder's accounts.")
def list_accounts(elder_id: str | None) -> None:
    """List accounts with their tokens' prefixes."""
    with db.session_scope(_admin_engine()) as session:
        for account in access.list_accounts(session, elder_id=elder_id):
            tokens = access.list_tokens(session, account.id)
            live = [t.prefix for t in tokens if t.revoked_at is None]
            click.echo(
                f"{account.id}  {account.role:<8} {account.display_name}  "
                f"elder={account.elder_id or '-'}  tokens={', '.join(live) or '-'}"
            )


if __name__ == "__main__":
    main()
