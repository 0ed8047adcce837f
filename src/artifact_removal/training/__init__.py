"""Training: one run engine (`engine`, logging through `live`, checkpoints and releases through
`saving`) and a recipe per method or model (`supervised`, `gan`, `nogan`, `nogan_gan` with
NoGAN's `stopping` rule, `qf`): the networks, the losses and the step; the engine does the
rest."""
