"""Networks: the Galteri et al. generator and its presets, the sub-patch discriminator, the
QF predictor's classifier (`qf_labels`: its labels, without torch), NoGAN's U-Net and
critic, and the registry of those that release files name (`registry`). (N, 3, H, W)
tensors; each module states its value range."""
