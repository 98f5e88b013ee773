"""The offline reference-overlap judge: chrF similarity to the prompt's reference answer.

It is not a model's judgment of quality; it exists so the demo and the tests run end to end on a
machine with no judge model, and every summary labels it "reference-overlap". Pairwise: the answer
closer to the reference (by more than `tie_margin` chrF points) wins, in both shown orders alike
(it has no position bias). Single: a 1-6 band of the chrF score, stored as judge_kind
"reference_likert" so it reads like a Likert grade.
"""

from __future__ import annotations

from typing import Any

from evalkit.judges.base import OfflineJudge, OfflineRow, SlotTexts

LABEL = "reference-overlap (chrF to the reference answer; not a model judgment)"
DEFAULT_BANDS: tuple[float, ...] = (10.0, 20.0, 30.0, 45.0, 60.0)  # chrF lower bounds of grades 2..6


def chrf_band(score: float, bands: tuple[float, ...] = DEFAULT_BANDS) -> int:
    """Grade 1 plus the number of band thresholds the chrF score reaches."""
    return 1 + sum(score >= threshold for threshold in bands)


class ReferenceJudge(OfflineJudge):
    kind = "reference"
    single_kind = "reference_likert"
    mode = "pairwise"
    label = LABEL

    def __init__(self, *, tie_margin: float = 2.0, bands: tuple[float, ...] = DEFAULT_BANDS) -> None:
        import sacrebleu
        from sacrebleu.metrics import CHRF

        self._chrf = CHRF()
        self.judge_model = f"chrF/sacrebleu-{sacrebleu.__version__}"
        self.tie_margin = tie_margin
        self.bands = tuple(bands)

    def spec(self) -> dict[str, Any]:
        chrf = self._chrf
        metric = {"name": "chrF", "char_order": chrf.char_order, "word_order": chrf.word_order, "beta": chrf.beta,
                  "lowercase": chrf.lowercase, "whitespace": chrf.whitespace, "eps_smoothing": chrf.eps_smoothing}
        return {"metric": metric, "tie_margin": self.tie_margin, "bands": list(self.bands)}

    def chrf(self, text: str, reference: str) -> float:
        return float(self._chrf.sentence_score(text, [reference]).score)

    def judge_pair(self, texts: SlotTexts) -> list[OfflineRow]:
        if texts.reference is None or texts.baseline is None:
            raise ValueError("the reference judge needs a reference answer and a baseline answer")
        model_chrf = self.chrf(texts.output, texts.reference)
        baseline_chrf = self.chrf(texts.baseline, texts.reference)
        difference = model_chrf - baseline_chrf
        outcome = "win" if difference > self.tie_margin else "loss" if difference < -self.tie_margin else "tie"
        shown_verdict = {"AB": {"win": "A", "loss": "B", "tie": "tie"}, "BA": {"win": "B", "loss": "A", "tie": "tie"}}
        extra = {"chrf_model": model_chrf, "chrf_baseline": baseline_chrf, "label": LABEL}
        return [OfflineRow(self.kind, order, shown_verdict[order][outcome], difference, True, extra) for order in ("AB", "BA")]

    def judge_one(self, texts: SlotTexts) -> list[OfflineRow]:
        if texts.reference is None:
            raise ValueError("the reference judge needs a reference answer")
        score = self.chrf(texts.output, texts.reference)
        return [OfflineRow(self.single_kind, None, None, float(chrf_band(score, self.bands)), True, {"chrf": score, "label": LABEL})]
