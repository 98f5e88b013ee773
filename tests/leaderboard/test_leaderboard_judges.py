"""The leaderboard's Judges page under Streamlit's AppTest: a saved `evalkit judge-quality` report and
the live report of the store's annotation batches, the humans' row on top whatever the sort, and the
same numbers as the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bench.leaderboard_data import populate, simulate_annotators
from evalkit.cli.main import main
from evalkit.store import Store

APP = Path(__file__).resolve().parents[2] / "leaderboard" / "entry" / "app.py"
DATA = Path(__file__).parents[1] / "fixtures" / "data" / "judge_quality"


@pytest.fixture(scope="module")
def judges_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("judges")
    url = f"sqlite:///{folder / 'store.db'}"
    data = populate(Store(url), runs=1, epochs=2, prompts=12)
    simulate_annotators(Store(url), data.checkpoints[1], data.baselines[0], items=10)
    assert (
        main(
            [
                "judge-quality",
                "--humans",
                str(DATA / "pandalm_humans.json"),
                "--judge-labels",
                str(DATA / "judge_a.jsonl"),
                "--judge-labels",
                str(DATA / "judge_b.jsonl"),
                "--resamples",
                "100",
                "--db",
                url,
                "--save",
                "pandalm",
            ]
        )
        == 0
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVALKIT_DB", url)
        patch.setenv("EVALKIT_CACHE_DIR", str(folder / "cache"))
        yield url
        from evalkit.leaderboard.cache import shared_cache

        shared_cache(url).wait_idle(timeout=60)


def _judges_page() -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    app.switch_page("../views/judges.py").run()
    assert not app.exception, [e.message for e in app.exception]
    return app


@pytest.mark.slow  # AppTest runs the whole app
def test_saved_report_humans_on_top_and_sortable(judges_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    app = _judges_page()
    table = app.dataframe[0].value
    assert list(table["name"]) == ["humans", "judge-a", "judge-b"]
    assert table.iloc[1]["human_agreement_tie_discounted"] == pytest.approx(7 / 8)
    app.selectbox(key="judges_sort").select("Cohen's κ").run()
    resorted = app.dataframe[0].value
    assert resorted.iloc[0]["name"] == "humans"
    kappas = list(resorted["cohen_kappa"].iloc[1:])
    assert kappas == sorted(kappas, reverse=True)
    assert len(app.get("vega_lite_chart")) == 2  # agreement with intervals, and the biases


@pytest.mark.slow  # AppTest runs the whole app
def test_live_report_of_the_store_batches_equals_the_cli(judges_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["judge-quality", "--db", judges_store, "--json", "--resamples", "0"]) == 0
    cli = json.loads(capsys.readouterr().out)
    app = _judges_page()
    app.selectbox(key="w_judges_source").select("live").run()
    assert not app.exception, [e.message for e in app.exception]
    table = app.dataframe[0].value.set_index("name")
    assert table.index[0] == "humans"
    for entry in [cli["humans"], *cli["judges"]]:
        assert table.loc[entry["name"], "human_agreement_tie_discounted"] == pytest.approx(
            entry["human_agreement_tie_discounted"]
        )


@pytest.mark.slow  # AppTest runs the whole app
def test_empty_store_says_how_to_get_a_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Store(url).engine.dispose()  # `evalkit leaderboard` refuses a missing store before it serves
    monkeypatch.setenv("EVALKIT_DB", url)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    app = _judges_page()
    assert any("evalkit judge-quality" in info.value for info in app.info)


def test_a_store_gone_after_start_is_one_line_on_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command refuses a missing store before serving; one removed later is an error line, not a traceback."""
    monkeypatch.setenv("EVALKIT_DB", f"sqlite:///{tmp_path / 'gone.db'}")
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not app.exception and any("no results store at" in error.value for error in app.error)
    assert not (tmp_path / "gone.db").exists()
