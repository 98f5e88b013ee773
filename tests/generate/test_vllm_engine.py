"""vLLM engine options and streaming, checked in milliseconds: the options as typed, the engine keyword
arguments and `vllm serve` flags built from them, the in-process backend driven by a stand-in engine, and
`vllm-server` driven through a stand-in `vllm` command. The real engine runs in test_vllm_real.py."""

from __future__ import annotations

import json
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from evalkit.cli.main import main
from evalkit.core.errors import EvalkitError
from evalkit.core.records import DecodingParams, Prompt, PromptSet
from evalkit.generate.checkpoint import Checkpoint
from evalkit.generate.runner import generate_for_checkpoint
from evalkit.generate.vllm_options import VLLMOptions, build_vllm_options, engine_kwargs, serve_args
from evalkit.store import Store

REPO = Path(__file__).resolve().parents[2]


def test_options_as_typed_become_engine_kwargs_and_serve_flags() -> None:
    options = build_vllm_options(
        "4",
        "2",
        "0.85",
        "8192",
        [
            "enforce_eager=true",
            "max-num-seqs=256",
            "kv_cache_dtype=fp8",
            "enable_prefix_caching=false",
            'hf_overrides={"rope_theta": 10000}',
            "swap_space=4.5",
        ],
    )
    assert options.gpus == 8
    assert engine_kwargs(options, "float16") == {
        "tensor_parallel_size": 4,
        "pipeline_parallel_size": 2,
        "dtype": "float16",
        "gpu_memory_utilization": 0.85,
        "max_model_len": 8192,
        "enforce_eager": True,
        "max_num_seqs": 256,
        "kv_cache_dtype": "fp8",
        "enable_prefix_caching": False,
        "hf_overrides": {"rope_theta": 10000},
        "swap_space": 4.5,
    }
    assert serve_args(options, "float16") == [
        "--tensor-parallel-size",
        "4",
        "--pipeline-parallel-size",
        "2",
        "--dtype",
        "float16",
        "--gpu-memory-utilization",
        "0.85",
        "--max-model-len",
        "8192",
        "--enforce-eager",
        "--max-num-seqs",
        "256",
        "--kv-cache-dtype",
        "fp8",
        "--no-enable-prefix-caching",
        "--hf-overrides",
        '{"rope_theta": 10000}',
        "--swap-space",
        "4.5",
    ]


def test_defaults_leave_vllm_its_own_memory_and_context_choices() -> None:
    options = build_vllm_options()
    assert options == VLLMOptions() and options.is_default()
    assert engine_kwargs(options) == {"tensor_parallel_size": 1, "pipeline_parallel_size": 1}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--tensor-parallel-size", "0"], "--tensor-parallel-size must be at least 1, got 0"),
        (["--pipeline-parallel-size", "two"], "--pipeline-parallel-size must be a whole number, got 'two'"),
        (["--gpu-memory-utilization", "1.5"], "--gpu-memory-utilization must be in (0, 1], got 1.5"),
        (["--gpu-memory-utilization", "most"], "--gpu-memory-utilization must be a number, got 'most'"),
        (["--max-model-len", "-4"], "--max-model-len must be at least 1, got -4"),
        (["--dtype", "fp64"], "--dtype must be float32, bfloat16 or float16, got 'fp64'"),
        (["--dtype", "auto"], "--dtype auto: name the precision (float32, bfloat16 or float16), so stored answers record it"),
        (
            ["--vllm-arg", "enforce_eagr=true"],
            "--vllm-arg enforce_eagr: not an option of this vLLM's engine (see `vllm serve --help`)",
        ),
        (["--max-model-len", "100000"], "--max-model-len 100000: {ckpt} was trained on at most 2048 tokens"),
        (["--vllm-arg", "enforce_eager"], "--vllm-arg 'enforce_eager': expected KEY=VALUE, e.g. --vllm-arg enforce_eager=true"),
        (["--vllm-arg", "port=9000"], "--vllm-arg port: evalkit picks a free port"),
        (["--vllm-arg", "tensor-parallel-size=2"], "--vllm-arg tensor_parallel_size: use --tensor-parallel-size"),
        (["--vllm-arg", "a=1", "--vllm-arg", "a=2"], "--vllm-arg a given twice"),
    ],
)
def test_bad_engine_options_are_one_line_and_write_nothing(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    pytest.importorskip("vllm", reason="the engine's own option names are read from the installed vLLM (make vllm)")
    db = tmp_path / "x.db"
    code = main(["generate", "--checkpoint", str(tiny_model_dir), "--backend", "vllm", "--db", f"sqlite:///{db}", *flags])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"evalkit: error: {message.format(ckpt=tiny_model_dir)}"]
    assert not db.exists()


def test_engine_options_need_a_vllm_backend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["generate", "--checkpoint", str(tmp_path), "--tensor-parallel-size", "2", "--db", f"sqlite:///{tmp_path / 'x.db'}"]
    )
    assert code == 2
    assert "need --backend vllm or vllm-server, not transformers" in capsys.readouterr().err


# ---- in-process engine, stood in for -------------------------------------------------------------


@dataclass
class FakeEngineArgs:
    """The fields of vllm.EngineArgs these tests use (the real class is a dataclass too)."""

    model: str
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    dtype: str = "auto"
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    enforce_eager: bool = False


class FakeEngine:
    """Finishes request i at step (i % 3) + 1, and records how many answers the store held at each step."""

    built: ClassVar[list[FakeEngine]] = []

    def __init__(self, args: FakeEngineArgs) -> None:
        self.args = args
        self.requests: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.prompts: list[list[int]] = []
        self.steps = 0
        self.stored_at_step: list[int] = []
        self.watch: Store | None = None
        FakeEngine.built.append(self)

    @classmethod
    def from_engine_args(cls, args: FakeEngineArgs) -> FakeEngine:
        return cls(args)

    def add_request(self, request_id: str, prompt: dict[str, Any], params: dict[str, Any]) -> None:
        self.requests[request_id] = (prompt, params)
        self.prompts.append(prompt["prompt_token_ids"])

    def step(self) -> list[SimpleNamespace]:
        self.steps += 1
        self.stored_at_step.append(len(self.watch.generations()) if self.watch else 0)
        done = [rid for rid in self.requests if int(rid) % 3 + 1 == self.steps]
        outputs = []
        for rid in self.requests:
            prompt, _ = self.requests[rid]
            finished = rid in done
            completion = SimpleNamespace(
                text=f" answer {rid} ", token_ids=[5] * (int(rid) + 1), finish_reason="stop" if finished else None
            )
            outputs.append(
                SimpleNamespace(
                    request_id=rid, finished=finished, prompt_token_ids=prompt["prompt_token_ids"], outputs=[completion]
                )
            )
        for rid in done:
            del self.requests[rid]
        return outputs

    def has_unfinished_requests(self) -> bool:
        return bool(self.requests)

    def abort_request(self, request_ids: list[str]) -> None:
        for rid in request_ids:
            self.requests.pop(rid, None)


FAKE_VLLM = SimpleNamespace(EngineArgs=FakeEngineArgs, LLMEngine=FakeEngine, SamplingParams=lambda **kwargs: kwargs)


def prompt_set(count: int, name: str = "p") -> PromptSet:
    prompts = tuple(
        Prompt(id=f"p{i}", messages=({"role": "user", "content": f"Question {i}: sea {'slow' if i == 0 else 'fast'}"},))
        for i in range(count)
    )
    return PromptSet(name=name, prompts=prompts, source="test")


def test_in_process_engine_gets_the_options_and_streams_answers_to_the_store_as_they_finish(
    tiny_model_dir: Path, store: Store
) -> None:
    from transformers import AutoTokenizer

    from evalkit.generate.vllm_backend import VLLMGenerator

    FakeEngine.built.clear()
    options = build_vllm_options("2", None, "0.5", "1024", ["enforce_eager=true"])
    prompts = prompt_set(6)
    decoding = DecodingParams(greedy=True, max_new_tokens=9, repetition_penalty=1.1)

    def make() -> VLLMGenerator:
        generator = VLLMGenerator(tiny_model_dir, options, "bfloat16", vllm_module=FAKE_VLLM)
        generator.engine.watch = store
        return generator

    summary = generate_for_checkpoint(store, Checkpoint(tiny_model_dir, "tiny"), prompts, decoding, make, progress=False)
    engine = FakeEngine.built[-1]
    assert engine.args == FakeEngineArgs(
        model=str(tiny_model_dir),
        tensor_parallel_size=2,
        dtype="bfloat16",
        gpu_memory_utilization=0.5,
        max_model_len=1024,
        enforce_eager=True,
    )
    # Requests 0 and 3 finish at step 1, 1 and 4 at step 2, 2 and 5 at step 3: each pair is stored before the next step.
    assert engine.stored_at_step == [0, 2, 4]
    assert summary.generated == 6 and summary.completion_tokens == sum(range(1, 7))
    rows = store.generations().set_index("prompt_hash")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    for index, prompt in enumerate(prompts.prompts):
        assert rows.loc[prompt.hash, "text"] == f"answer {index}" and rows.loc[prompt.hash, "backend"] == "vllm"
        # The prompt goes in as the chat template's own token ids (no second BOS), as the transformers backend sends it.
        expected = tokenizer.apply_chat_template(
            list(prompt.messages), tokenize=True, add_generation_prompt=True, return_dict=True
        )
        assert engine.prompts[index] == expected["input_ids"]
        assert rows.loc[prompt.hash, "prompt_tokens"] == len(expected["input_ids"])


def test_sampling_params_follow_the_decoding(tiny_model_dir: Path) -> None:
    from evalkit.generate.vllm_backend import VLLMGenerator

    generator = VLLMGenerator(tiny_model_dir, VLLMOptions(), vllm_module=FAKE_VLLM)
    im_end = generator.tokenizer.convert_tokens_to_ids("<|im_end|>")
    greedy = generator._sampling(DecodingParams(greedy=True, max_new_tokens=7, repetition_penalty=1.2), sample=3)
    assert greedy == {"temperature": 0.0, "max_tokens": 7, "repetition_penalty": 1.2, "stop_token_ids": [im_end]}
    sampled = generator._sampling(DecodingParams(temperature=0.7, top_p=0.9, seed=10), sample=3)
    assert sampled["temperature"] == 0.7 and sampled["top_p"] == 0.9 and sampled["seed"] == 13


def test_a_misspelt_engine_option_fails_before_the_engine_is_built(tiny_model_dir: Path) -> None:
    from evalkit.generate.vllm_backend import VLLMGenerator

    FakeEngine.built.clear()
    with pytest.raises(EvalkitError, match="--vllm-arg enforce_eagr: not an option of this vLLM's engine"):
        VLLMGenerator(tiny_model_dir, build_vllm_options(vllm_args=["enforce_eagr=true"]), vllm_module=FAKE_VLLM)
    assert FakeEngine.built == []


# ---- `vllm serve`, stood in for ------------------------------------------------------------------


@pytest.fixture()
def fake_vllm_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """vllm-server started as tests/fixtures/fake_vllm.py; returns where it records its argv."""
    from evalkit.generate.vllm_backend import VLLMServerGenerator

    script = tmp_path / "fake_vllm_server"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\n"
        "from tests.fixtures.fake_vllm import main\nmain(sys.argv[1:])\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    argv_file = tmp_path / "argv.json"
    monkeypatch.setattr(VLLMServerGenerator, "launcher", (str(script),))
    monkeypatch.setenv("FAKE_VLLM_ARGV", str(argv_file))
    monkeypatch.setenv("FAKE_VLLM_SLOW_S", "1.5")
    return argv_file


def test_vllm_server_gets_the_options_and_stores_each_answer_as_it_finishes(
    tiny_model_dir: Path, store: Store, fake_vllm_command: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalkit.generate.factory import BackendOptions, make_generator

    options = BackendOptions(
        backend="vllm-server", dtype="bfloat16", vllm=build_vllm_options("2", None, "0.8", None, ["enforce_eager=true"])
    )
    checkpoint = Checkpoint(tiny_model_dir, "tiny")
    prompts = prompt_set(5)
    writes: list[set[str]] = []
    add = store.add_generations
    monkeypatch.setattr(
        store,
        "add_generations",
        lambda model_id, decoding, backend, batch: (
            writes.append({r.prompt_hash for r in batch}),
            add(model_id, decoding, backend, batch),
        )[1],
    )
    summary = generate_for_checkpoint(
        store, checkpoint, prompts, DecodingParams(max_new_tokens=8), lambda: make_generator(checkpoint, options), progress=False
    )
    argv = json.loads(fake_vllm_command.read_text())
    assert argv[:2] == ["--model", str(tiny_model_dir)]
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--served-model-name") + 1] == "tiny"
    assert argv[argv.index("--served-model-name") + 2 :] == [
        "--tensor-parallel-size",
        "2",
        "--pipeline-parallel-size",
        "1",
        "--dtype",
        "bfloat16",
        "--gpu-memory-utilization",
        "0.8",
        "--enforce-eager",
    ]
    assert summary.generated == 5
    slow = prompts.prompts[0].hash
    # The four fast answers were stored before the slow one was done, which came in a later write.
    assert slow not in writes[0] and writes[-1] == {slow} and set().union(*writes) == {p.hash for p in prompts.prompts}
    rows = store.generations()
    assert set(rows["backend"]) == {"vllm-server"} and set(rows["text"]) == {
        f"answer to {p.instruction}" for p in prompts.prompts
    }
