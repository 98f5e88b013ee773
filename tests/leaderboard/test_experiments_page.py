"""The leaderboard's Experiments page under Streamlit's AppTest: a recorded sweep shows the best cell
with its significance, LIMA Figures 5 and 6 (from the cells' numbers), Yi's proportion chart and a
table of every cell; an empty store says how to make a sweep."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from evalkit.store import Store, data_tables

LEADERBOARD = Path(__file__).resolve().parents[2] / "leaderboard"
APP, PAGE = LEADERBOARD / "entry" / "app.py", LEADERBOARD / "views" / "experiments.py"
CELLS = [  # (source, size, ability, proportion, win rate)
    ("filtered-se", 2000, None, 1.0, 52.0),
    ("filtered-se", 4000, None, 1.0, 53.5),
    ("filtered-se", 8000, None, 1.0, 51.0),
    ("wikihow", 2000, None, 1.0, 41.0),
    ("wikihow", 4000, None, 1.0, 42.5),
    ("filtered-se", 2000, "math", 0.25, 48.0),
]


@pytest.fixture()
def served_store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    saved = {k: os.environ.get(k) for k in ("EVALKIT_DB", "EVALKIT_CACHE_DIR")}
    os.environ.update(EVALKIT_DB=url, EVALKIT_CACHE_DIR=str(tmp_path / "cache"))
    yield Store(url)
    from evalkit.leaderboard.cache import shared_cache

    shared_cache(url).wait_idle(timeout=60)  # no background job of the app may outlive the test
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _record(store: Store) -> None:
    data_tables.save_sweep(store, "k" * 64, "lima-figures", {"sizes": [2000, 4000, 8000]})
    for index, (source, size, ability, proportion, win_rate) in enumerate(CELLS):
        data_tables.save_cell(
            store,
            "k" * 64,
            {
                "cell_key": f"{index:064d}",
                "source": source,
                "size": size,
                "ability": ability,
                "proportion": proportion,
                "n_examples": size,
                "data_hash": "d" * 64,
                "checkpoint": f"runs/{source}-{size}/epoch-10",
                "model_id": None,
                "judge": "pairwise",
                "n": 300,
                "win_rate": win_rate,
                "ci_low": win_rate - 5,
                "ci_high": win_rate + 5,
            },
        )
    data_tables.save_best(
        store,
        "k" * 64,
        {
            "source": "filtered-se",
            "n_examples": 4000,
            "win_rate": 53.5,
            "vs_runner_up": {
                "runner_up": "filtered-se-n2000",
                "difference": 1.5,
                "ci_low": -2.0,
                "ci_high": 5.0,
                "p_value": 0.41,
                "significant": False,
            },
        },
    )


def _open(through_app: bool = False) -> AppTest:
    """The page alone (fast), or through the app's navigation (which also renders the default page first)."""
    app = AppTest.from_file(str(APP if through_app else PAGE), default_timeout=60).run()
    if through_app:
        app.switch_page("../views/experiments.py").run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def test_experiments_page_shows_figures_best_cell_and_every_cell(served_store: Store) -> None:
    _record(served_store)
    app = _open()
    assert app.get("metric")[0].value == "filtered-se · 4000 examples"
    text = "\n".join(str(e.value) for kind in ("markdown", "subheader") for e in app.get(kind))
    assert "LIMA Figure 5" in text and "LIMA Figure 6" in text and "Yi's grid" in text
    assert "+1.5 points" in text and "not significant" in text
    charts = [json.loads(e.proto.spec) for e in app.get("vega_lite_chart")]
    assert len(charts) == 3
    size_axis = charts[1]["layer"][0]["encoding"]["x"]
    assert size_axis["scale"]["type"] == "log" and size_axis["field"] == "size"
    table = app.dataframe[0].value
    assert len(table) == len(CELLS) and set(table["win_rate"]) == {c[4] for c in CELLS}
    app.select_slider[0].set_value(4000).run()  # Figure 5 at another size: its bars are that size's cells
    assert not app.exception
    spec = json.loads(app.get("vega_lite_chart")[0].proto.spec)
    assert "4000 examples" in json.dumps(spec["title"])


def test_experiments_page_is_in_the_app_and_says_how_to_make_a_sweep(served_store: Store) -> None:
    app = _open(through_app=True)
    assert any("evalkit sweep" in str(e.value) for e in app.get("info"))
