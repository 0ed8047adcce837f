"""Training: one run engine (`engine`, logging through `live`) and a recipe per method or model
(`supervised`, `gan`, `qf`): the networks, the losses and the step; the engine does the rest."""
