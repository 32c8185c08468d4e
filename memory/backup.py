"""Backups of a running service, and restoring one into an empty data directory.

A backup is one tar.gz: `manifest.json` (format, zhian's version, when, the schema revision,
rows per table, each file's sha256) and the database: a copy made with SQLite's online backup
API (consistent while the service writes), or a `pg_dump` of PostgreSQL. The vector index is
derived from the database: its vectors travel beside it when the index can be read
(`vectors.npz`, by memory id), so that restore writes them back instead of embedding every
memory again; whatever they do not cover is embedded on restore.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
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

import numpy as np
import sqlalchemy as sa
from sqlmodel import SQLModel

from memory import db
from memory.errors import Conflict, InvalidInput, ZhianError
from memory.index import IndexUnavailable, VectorIndex
from memory.indexer import drain, mark_all_pending, pending_count
from memory.models import Memory, utcnow

log = logging.getLogger(__name__)

FORMAT = "zhian.backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/zhian.db"
POSTGRES_MEMBER = "database/zhian.pgdump"
VECTORS_MEMBER = "index/vectors.npz"
_VECTOR_BATCH = 256
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
    # The embedder's collection prefix the carried vectors came from, and how many; none:
    # the index is rebuilt from the database on restore.
    vectors: dict | None = None

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


def create_backup(
    engine: sa.Engine,
    target: Path,
    *,
    index: VectorIndex | None = None,
    progress: Progress = _quiet,
) -> Manifest:
    """Write a backup of the database behind `engine` to `target` (a new file), with the
    vectors of `index` when it can be read."""
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
                indexed = _indexed_texts(snapshot)
            finally:
                snapshot.dispose()
            database = "sqlite"
        elif engine.dialect.name == "postgresql":
            member, dump = POSTGRES_MEMBER, folder / "zhian.pgdump"
            revision = _revision(engine)
            indexed = _indexed_texts(engine)  # read before the dump: see _carry_vectors
            _pg_dump(engine, dump, progress)
            counts, database = _table_counts(engine), "postgresql"
        else:
            raise InvalidInput(f"Backups of a {engine.dialect.name} database are not supported.")
        members = {member: dump}
        vectors = None
        if index is not None:
            carried = _carry_vectors(engine, index, indexed, folder / "vectors.npz", progress)
            if carried:
                members[VECTORS_MEMBER] = folder / "vectors.npz"
                vectors = {"collection": index.collection_name, "count": carried}
        manifest = Manifest(
            format=FORMAT,
            zhian_version=_version(),
            created_at=utcnow().isoformat(timespec="seconds"),
            schema_revision=revision,
            database=database,
            counts=counts,
            files={name: _sha256(path) for name, path in members.items()},
            vectors=vectors,
        )
        partial = folder / "backup.tar.gz"
        _write_archive(partial, manifest, members, progress)
        os.replace(partial, target)
    return manifest


def _indexed_texts(engine: sa.Engine) -> dict[int, tuple[str, str]]:
    """Memories the snapshot says are in the index: id to (elder, text)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(Memory.id, Memory.elder_id, Memory.text).where(  # type: ignore[call-overload]
                Memory.index_pending == sa.false()
            )
        )
        return {memory_id: (elder_id, text) for memory_id, elder_id, text in rows}


def _carry_vectors(
    engine: sa.Engine,
    index: VectorIndex,
    indexed: dict[int, tuple[str, str]],
    path: Path,
    progress: Progress,
) -> int:
    """Write the vectors of the memories in the snapshot to `path`; how many.

    The index is read after the snapshot, so a memory changed in between may have a vector of
    its new words: its words are read again from the live database, and a memory whose words
    differ from the snapshot's is left out (embedded again on restore). A memory that was
    pending in the snapshot is not carried at all."""
    by_elder: dict[str, list[int]] = {}
    for memory_id, (elder_id, _) in indexed.items():
        by_elder.setdefault(elder_id, []).append(memory_id)
    ids: list[int] = []
    vectors: list = []
    done = 0
    try:
        for elder_id, memory_ids in by_elder.items():
            collection = index.collection(elder_id)
            for start in range(0, len(memory_ids), _VECTOR_BATCH):
                batch = memory_ids[start : start + _VECTOR_BATCH]
                got = collection.get(ids=[str(i) for i in batch], include=["embeddings"])
                ids += [int(i) for i in got["ids"]]
                vectors += list(got["embeddings"])
                done += len(batch)
                progress("Copying the memory index", done, len(indexed))
    except (IndexUnavailable, Exception) as exc:  # noqa: BLE001 - the backup stands without
        log.warning("The memory index could not be read (%s): restore will rebuild it.", exc)
        return 0
    unchanged = _unchanged_since(engine, indexed, ids)
    keep = [position for position, memory_id in enumerate(ids) if memory_id in unchanged]
    if not keep:
        return 0
    np.savez(
        path,
        ids=np.array([ids[p] for p in keep], dtype=np.int64),
        vectors=np.array([vectors[p] for p in keep], dtype=np.float32),
    )
    return len(keep)


def _unchanged_since(
    engine: sa.Engine, indexed: dict[int, tuple[str, str]], ids: list[int]
) -> set[int]:
    live: dict[int, str] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            live.update(
                conn.execute(
                    sa.select(Memory.id, Memory.text).where(Memory.id.in_(batch))  # type: ignore[call-overload,union-attr]
                ).all()
            )
    return {i for i in ids if live.get(i, indexed[i][1]) == indexed[i][1]}


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
    index: VectorIndex | None = None,
    progress: Progress = _quiet,
) -> Manifest:
    """Restore a backup into an empty data directory (and, for PostgreSQL, an empty database),
    bring its schema up to this version, and fill `index`: the carried vectors written back,
    the rest embedded. Without `index`, every memory is left pending for the background
    indexer."""
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
            mark_all_pending(engine)
            if index is not None:
                vectors = extracted.get(VECTORS_MEMBER)
                if vectors is not None and (manifest.vectors or {}).get("collection") == (
                    index.collection_name
                ):
                    _write_back_vectors(engine, index, vectors, progress)
                total = pending_count(engine)
                drain(
                    engine,
                    index,
                    on_progress=_counting("Indexing the other memories", total, progress),
                )
        finally:
            engine.dispose()
    return manifest


def _counting(step: str, total: int, progress: Progress) -> Callable[[int], None]:
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress(step, done, total)

    return advance


def _write_back_vectors(
    engine: sa.Engine, index: VectorIndex, path: Path, progress: Progress
) -> None:
    """Upsert the carried vectors of memories the restored database holds, and take them out
    of the outbox; the index's metadata is made from the rows, as the indexer makes it."""
    from sqlmodel import Session, select

    carried = np.load(path)
    ids, vectors = carried["ids"], carried["vectors"]
    position = {int(memory_id): p for p, memory_id in enumerate(ids)}
    done = 0
    for start in range(0, len(ids), _VECTOR_BATCH):
        batch = [int(i) for i in ids[start : start + _VECTOR_BATCH]]
        with Session(engine) as session:
            memories = list(session.exec(select(Memory).where(Memory.id.in_(batch))))  # type: ignore[union-attr]
        if memories:
            index.upsert(memories, [vectors[position[m.id]].tolist() for m in memories])  # type: ignore[index]
            with engine.begin() as conn:
                conn.execute(
                    sa.update(Memory)
                    .where(Memory.id.in_([m.id for m in memories]))  # type: ignore[union-attr]
                    .values(index_pending=False)
                )
        done += len(batch)
        progress("Writing the memory index back", done, len(ids))


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
