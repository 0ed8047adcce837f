"""What the stage notebooks call: preparation reports, training reports, the evaluation, plots,
the comparison widgets, the DSIS study (`study`, with its parts `study_order`, `study_build`,
`study_ratings` and `study_analysis`), running notebooks with papermill, and the pipeline
file made from the method registry (`pipeline`)."""
