"""What the stage notebooks call: preparation reports, training reports, the evaluation, plots,
the comparison widgets, and running notebooks with papermill."""
