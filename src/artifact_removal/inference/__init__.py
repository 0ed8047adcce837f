"""Inference, which never imports training: release files, restoring images (whole or tiled),
the QF predictor's answer, the ensemble of per-QF generators, and restoring a user's files."""
