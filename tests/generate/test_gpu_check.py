"""bench/gpu_check.py's CPU-side parts: its arguments, the token-for-token comparison and the verdict
(the GPU run itself needs CUDA and vLLM; on this machine it says so and exits 2)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.py"
spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
gpu_check = importlib.util.module_from_spec(spec)
sys.modules["gpu_check"] = gpu_check  # its dataclasses look their module up while being defined
spec.loader.exec_module(gpu_check)


def encode(text: str) -> list[int]:
    """A stand-in tokenizer: one token per character."""
    return [ord(c) for c in text]


def test_token_match_counts_identical_answers_and_locates_the_first_difference() -> None:
    reference = {"a": "the sea", "b": "blue", "c": "wave", "d": "tide"}
    candidate = {"a": "the sea", "b": "blur", "c": "waves", "d": "tide"}
    match = gpu_check.token_match(reference, candidate, encode)
    assert (match.matched, match.total, match.rate) == (2, 4, 0.5)
    assert match.mismatches == [
        {"prompt": "b", "first_diff_token": 3, "expected_tokens": 4, "got_tokens": 4},
        {
            "prompt": "c",
            "first_diff_token": 4,
            "expected_tokens": 4,
            "got_tokens": 5,
        },  # a longer answer differs where the shorter ends
    ]
    missing = gpu_check.token_match(reference, {"a": "the sea"}, encode)
    assert missing.matched == 1 and missing.mismatches[0] == {
        "prompt": "b",
        "first_diff_token": None,
        "expected_tokens": 4,
        "got_tokens": None,
    }


def test_verdict_fails_when_any_backend_is_below_the_threshold() -> None:
    Match = gpu_check.Match
    passing = {"real": {"vllm": Match(9, 10), "vllm-server": Match(10, 10)}}
    assert gpu_check.verdict(passing, 0.9) == (
        0,
        ["real vllm: 9/10 token-identical (90%) ok", "real vllm-server: 10/10 token-identical (100%) ok"],
    )
    failing = {**passing, "tiny-bf16": {"vllm": Match(8, 10)}}
    code, lines = gpu_check.verdict(failing, 0.9)
    assert code == 1 and lines[-1] == "tiny-bf16 vllm: 8/10 token-identical (80%) BELOW 90%"


def test_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = gpu_check.parse_args([])
    assert (args.model, args.prompts, args.new_tokens, args.min_match, args.backends) == (
        None,
        24,
        128,
        0.9,
        ["vllm", "vllm-server"],
    )
    assert args.vllm.gpu_memory_utilization == 0.5
    assert gpu_check.parse_args(["--backends", "vllm", "--vllm-arg", "enforce_eager=true"]).vllm.extra == (
        ("enforce_eager", True),
    )
    for bad, message in (
        (["--backends", "sglang"], "--backends must be a subset"),
        (["--min-match", "1.5"], "--min-match must be in"),
        (["--model", str(tmp_path)], "no config.json"),
        (["--no-tiny"], "nothing to check"),
        (["--vllm-arg", "port=1"], "--vllm-arg port: evalkit picks a free port"),
    ):
        with pytest.raises(SystemExit) as raised:
            gpu_check.parse_args(bad)
        assert raised.value.code == 2 and message in capsys.readouterr().err


def test_without_cuda_it_says_so_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the real check would run")
    assert gpu_check.main([]) == 2
    assert "no CUDA device here; nothing was run" in capsys.readouterr().err


@pytest.mark.gpu
def test_gpu_check_passes_on_a_cuda_machine(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("vllm", reason="vllm is not installed (make vllm)")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    assert gpu_check.main(["--prompts", "8", "--new-tokens", "32", "--json-out", str(tmp_path / "figures.json")]) == 0
