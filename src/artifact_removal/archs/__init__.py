"""Networks: the Galteri et al. generator and its presets, the sub-patch discriminator, the
QF predictor's classifier. (N, 3, H, W) tensors; each module states its value range."""
