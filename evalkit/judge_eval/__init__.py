"""Judge the judges: hold judge configurations up against human labels (`evalkit judge-quality`, the
leaderboard's Judges page). align: a judge's verdicts onto the humans' items; report: the figures;
running: judges asked through the store's cached, budgeted runner; store_source: the store's own
annotation batches; saved: reports kept in the store for the leaderboard; ratings: LIMA's absolute
ratings (Figure 3 shares and rater agreement) for the leaderboard's Ratings page and the report."""
