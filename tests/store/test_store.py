from __future__ import annotations

import pytest

from evalkit.core.errors import EvalkitError
from evalkit.core.records import DecodingParams, GenerationResult, ModelInfo, Prompt, PromptSet
from evalkit.store import Store


def _set(name: str = "s", texts: tuple[str, ...] = ("a", "b")) -> PromptSet:
    return PromptSet(
        name, tuple(Prompt(str(i), ({"role": "user", "content": t},), reference="r") for i, t in enumerate(texts)), "test"
    )


def test_prompt_set_roundtrip_and_replace(store: Store) -> None:
    store.save_prompt_set(_set())
    loaded = store.load_prompt_set("s")
    assert [p.instruction for p in loaded.prompts] == ["a", "b"]
    store.save_prompt_set(_set(texts=("c",)))
    assert [p.instruction for p in store.load_prompt_set("s").prompts] == ["c"]


def test_generations_insert_is_idempotent(store: Store) -> None:
    prompt_set = _set()
    store.save_prompt_set(prompt_set)
    model_id = store.register_model(ModelInfo(name="m", fingerprint="f" * 64))
    assert store.register_model(ModelInfo(name="m2", fingerprint="f" * 64)) == model_id
    decoding = DecodingParams(greedy=True)
    results = [GenerationResult(p.hash, 0, "out") for p in prompt_set.prompts]
    assert store.add_generations(model_id, decoding, "test", results) == 2
    assert store.add_generations(model_id, decoding, "test", results) == 0
    assert store.stored_generation_keys(model_id, decoding) == {(p.hash, 0) for p in prompt_set.prompts}
    assert store.stored_generation_keys(model_id, DecodingParams()) == set()
    assert len(store.generations(model_id)) == 2


def test_greedy_decoding_hash_ignores_sampling_knobs() -> None:
    assert DecodingParams(greedy=True, temperature=0.3).hash == DecodingParams(greedy=True).hash
    assert DecodingParams(temperature=0.3).hash != DecodingParams().hash


def test_schema_version_mismatch_is_a_clear_error(db_url: str) -> None:
    store = Store(db_url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE meta SET value='999' WHERE key='schema_version'")
    with pytest.raises(EvalkitError, match="schema version 999"):
        Store(db_url)


def test_bad_url_error_hides_password() -> None:
    with pytest.raises(EvalkitError) as info:
        Store("nosuchdialect://user:hunter2@host/db")
    assert "hunter2" not in str(info.value)
