"""What the stage notebooks call: preparation reports, training reports, the evaluation (and the
published figures beside it, `published_tables`), plots,
the comparison widgets, the DSIS study (`study`, with its parts `study_order`, `study_build`,
`study_ratings` and `study_analysis`), running notebooks with papermill, the video report's
player (`player`), and the pipeline file made from the method registry (`pipeline`, with
`stage_sources`: the files each stage runs)."""
