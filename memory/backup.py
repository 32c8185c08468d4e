"""Backups of a running service, and restoring one into an empty data directory.

A backup is one tar.gz: `manifest.json` (format, zhian's version, when, the schema revision,
rows per table, each file's sha256) and the database: a copy made with SQLite's online backup
API (consistent while the service writes), or a `pg_dump` of PostgreSQL. The vector index is
derived from the database, so it is not in the archive: restore rebuilds it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import SQLModel

from memory import db
from memory.errors import Conflict, InvalidInput, ZhianError
from memory.models import utcnow

FORMAT = "zhian.backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/zhian.db"
POSTGRES_MEMBER = "database/zhian.pgdump"
_PAGES_PER_STEP = 256
_CHUNK = 1024 * 1024

# (what is being done, done so far, total); totals are pages for SQLite, bytes otherwise.
Progress = Callable[[str, int, int], None]


class BackupUnavailable(ZhianError):
    """The tools a backup or restore needs are missing here; the message says what to run."""

    code = "backup_unavailable"


@dataclass(frozen=True)
class Manifest:
    format: str
    zhian_version: str
    created_at: str
    schema_revision: str
    database: str  # sqlite, postgresql
    counts: dict[str, int]
    files: dict[str, str]  # member name: sha256
    vector_index: str = "rebuilt from the database on restore"

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, ensure_ascii=False, indent=2).encode()


def _quiet(step: str, done: int, total: int) -> None:
    pass


def _version() -> str:
    try:
        return metadata.version("zhian")
    except metadata.PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _table_counts(engine: sa.Engine) -> dict[str, int]:
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            counts[table.name] = int(
                conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            )
    return counts


def _revision(engine: sa.Engine) -> str:
    current, _ = db.schema_status(engine)
    if current is None:
        raise InvalidInput("The database holds no zhian schema yet: there is nothing to back up.")
    return current


# --- backup -------------------------------------------------------------------------------------


def create_backup(engine: sa.Engine, target: Path, *, progress: Progress = _quiet) -> Manifest:
    """Write a backup of the database behind `engine` to `target` (a new file)."""
    target = Path(target)
    if target.exists():
        raise Conflict(f"{target} already exists: give a new file name, or move the old one away.")
    if not target.parent.is_dir():
        raise InvalidInput(f"The folder {target.parent} does not exist: make it first.")
    with tempfile.TemporaryDirectory(prefix="zhian-backup-", dir=target.parent) as work:
        folder = Path(work)
        if engine.dialect.name == "sqlite":
            member, dump = SQLITE_MEMBER, folder / "zhian.db"
            _copy_sqlite(engine, dump, progress)
            snapshot = db.make_engine(f"sqlite:///{dump}")
            try:
                revision, counts = _revision(snapshot), _table_counts(snapshot)
            finally:
                snapshot.dispose()
            database = "sqlite"
        elif engine.dialect.name == "postgresql":
            member, dump = POSTGRES_MEMBER, folder / "zhian.pgdump"
            revision = _revision(engine)
            _pg_dump(engine, dump, progress)
            counts, database = _table_counts(engine), "postgresql"
        else:
            raise InvalidInput(f"Backups of a {engine.dialect.name} database are not supported.")
        manifest = Manifest(
            format=FORMAT,
            zhian_version=_version(),
            created_at=utcnow().isoformat(timespec="seconds"),
            schema_revision=revision,
            database=database,
            counts=counts,
            files={member: _sha256(dump)},
        )
        partial = folder / "backup.tar.gz"
        _write_archive(partial, manifest, {member: dump}, progress)
        os.replace(partial, target)
    return manifest


def _sqlite_path(engine: sa.Engine) -> Path:
    name = engine.url.database
    if not name or name == ":memory:":
        raise InvalidInput(
            "This SQLite database lives in memory only: there is no file to back up."
        )
    return Path(name)


def _copy_sqlite(engine: sa.Engine, dump: Path, progress: Progress) -> None:
    """SQLite's online backup: page by page, consistent even while the service writes."""
    source = sqlite3.connect(_sqlite_path(engine), timeout=30)
    copy = sqlite3.connect(dump)
    try:
        source.backup(
            copy,
            pages=_PAGES_PER_STEP,
            progress=lambda _status, remaining, total: progress(
                "Copying the database", total - remaining, total
            ),
        )
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        problem = copy.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise InvalidInput(f"The database copy is damaged ({problem}); nothing was written.")
    finally:
        copy.close()
        source.close()


def _libpq(engine: sa.Engine) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, which travels in PGPASSWORD."""
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = sa.engine.URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )
    return plain.render_as_string(hide_password=False), env


def _pg_tool(name: str, instead: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupUnavailable(
            f"{name} is not installed here (Debian: apt-get install postgresql-client, of the "
            f"server's major version). Or run it where it is: {instead}"
        )
    return found


def _pg_dump(engine: sa.Engine, dump: Path, progress: Progress) -> None:
    dsn, env = _libpq(engine)
    tool = _pg_tool("pg_dump", f"pg_dump --format=custom --no-owner --file=zhian.pgdump '{dsn}'")
    progress("Dumping the database", 0, 1)
    done = subprocess.run(
        [tool, "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}", dsn],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupUnavailable(f"pg_dump failed: {_first_line(done.stderr)}")
    progress("Dumping the database", 1, 1)


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or ["no reason given"])[0]


def _write_archive(
    path: Path, manifest: Manifest, members: dict[str, Path], progress: Progress
) -> None:
    total = sum(p.stat().st_size for p in members.values())
    with tarfile.open(path, "w:gz") as archive:
        body = manifest.to_json()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime = len(body), int(utcnow().timestamp())
        archive.addfile(info, io.BytesIO(body))
        written = 0
        for name, source in members.items():
            info = archive.gettarinfo(str(source), arcname=name)
            with source.open("rb") as handle:
                archive.addfile(info, _Counting(handle, lambda n: progress("Packing", n, total)))
            written += source.stat().st_size
            progress("Packing", written, total)


class _Counting(io.RawIOBase):
    """A file reader that reports how far it has read."""

    def __init__(self, handle, report: Callable[[int], None]) -> None:  # type: ignore[no-untyped-def]
        self._handle, self._report, self._read = handle, report, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._read += len(chunk)
        self._report(self._read)
        return chunk


# --- restore ------------------------------------------------------------------------------------


def read_manifest(archive_path: Path) -> Manifest:
    """The manifest of a backup, or a reason it is not one zhian can restore."""
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            member = archive.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            data = json.loads(member.read())
    except FileNotFoundError:
        raise InvalidInput(f"There is no file {archive_path}.") from None
    except (tarfile.TarError, KeyError, OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            f"{archive_path} is not a zhian backup ({type(exc).__name__}: {exc}); give a file "
            "made by 'zhian backup'."
        ) from None
    if data.get("format") != FORMAT:
        raise InvalidInput(
            f"{archive_path} is a backup in format {data.get('format')!r}; this version of "
            f"zhian restores {FORMAT}."
        )
    known = {k: data[k] for k in Manifest.__dataclass_fields__ if k in data}
    return Manifest(**known)


def check_revision(manifest: Manifest) -> None:
    """Refuse a backup from a newer zhian (its schema is not one this version knows)."""
    if manifest.schema_revision not in db.known_revisions():
        raise InvalidInput(
            f"This backup's database schema is at revision {manifest.schema_revision}, which this "
            f"version of zhian does not know (it was made by zhian {manifest.zhian_version}): "
            "restore it with that version or a newer one."
        )


def data_dir_is_empty(data_dir: Path) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise InvalidInput(f"The data directory {data_dir} is a file: give an empty folder.")
    if data_dir.exists() and any(data_dir.iterdir()):
        raise Conflict(
            f"The data directory {data_dir.resolve()} is not empty: restore into a new, empty "
            "folder (set ZHIAN_DATA_DIR to it), so that nothing there is overwritten."
        )


def restore_backup(
    archive_path: Path,
    *,
    data_dir: Path,
    database_url: str,
    progress: Progress = _quiet,
) -> Manifest:
    """Restore a backup into an empty data directory (and, for PostgreSQL, an empty database),
    then bring its schema up to this version. The vector index is left for the caller to
    rebuild (`memory.indexer`)."""
    archive_path = Path(archive_path)
    manifest = read_manifest(archive_path)
    check_revision(manifest)
    data_dir_is_empty(data_dir)
    target_kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    if manifest.database != target_kind:
        raise InvalidInput(
            f"This backup holds a {manifest.database} database but ZHIAN_DATABASE_URL names a "
            f"{target_kind} one: restore it with the same kind of database."
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zhian-restore-", dir=data_dir.parent) as work:
        extracted = _extract(archive_path, manifest, Path(work), progress)
        engine = db.make_engine(database_url)
        try:
            if target_kind == "sqlite":
                _restore_sqlite(engine, extracted[SQLITE_MEMBER])
            else:
                _restore_postgres(engine, extracted[POSTGRES_MEMBER], progress)
            db.upgrade(engine)
        finally:
            engine.dispose()
    return manifest


def _extract(
    archive_path: Path, manifest: Manifest, folder: Path, progress: Progress
) -> dict[str, Path]:
    found: dict[str, Path] = {}
    with tarfile.open(archive_path, "r:gz") as archive:
        for name, expected in manifest.files.items():
            member = archive.extractfile(name)
            if member is None:
                raise InvalidInput(f"{archive_path} lacks {name}: the backup is incomplete.")
            path = folder / Path(name).name
            total = archive.getmember(name).size
            digest, done = hashlib.sha256(), 0
            with path.open("wb") as out:
                while chunk := member.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    done += len(chunk)
                    progress("Unpacking", done, total)
            if digest.hexdigest() != expected:
                raise InvalidInput(
                    f"{name} in {archive_path} does not match its checksum: the backup is "
                    "damaged; use another one."
                )
            found[name] = path
    return found


def _restore_sqlite(engine: sa.Engine, copy: Path) -> None:
    target = _sqlite_path(engine)
    if target.exists():
        raise Conflict(f"The database file {target} already exists: nothing was restored.")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(copy, target)


def _restore_postgres(engine: sa.Engine, dump: Path, progress: Progress) -> None:
    with engine.connect() as conn:
        tables = conn.execute(
            sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
        ).scalar_one()
    dsn, env = _libpq(engine)
    if tables:
        raise Conflict(
            f"The database {engine.url.render_as_string(hide_password=True)} is not empty "
            f"({tables} tables): restore into a new, empty database."
        )
    tool = _pg_tool("pg_restore", f"pg_restore --no-owner --dbname='{dsn}' zhian.pgdump")
    progress("Loading the database", 0, 1)
    done = subprocess.run(
        [tool, "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={dsn}", str(dump)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupUnavailable(f"pg_restore failed: {_first_line(done.stderr)}")
    progress("Loading the database", 1, 1)
