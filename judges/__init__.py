"""Judges (shipped as `evalkit.judges`): LIMA pairwise, 6-point Likert, AlpacaEval's weighted judge, the
offline reference-overlap judge and YAML-spec custom judges. Entry points: `registry.make_judge`,
`runner.judge_pairs` / `runner.judge_single`; what their judgments mean is read in `evalkit.results`. See ARCHITECTURE.md."""
