"""Reproducible companion to GAN compression-artifact removal.

Galteri, Seidenari, Bertini, Del Bimbo (ICCV 2017; IEEE TMM 2019), Galteri et al. (IOP 2020)
and Mameli et al.'s NoGAN (ICPR 2020). Images between modules are RGB, float32, NCHW, [0, 1];
file-level code uses uint8 (H, W, 3) arrays.
"""

__version__ = "0.1.0"
