"""Reproducible companion to GAN compression-artifact removal.

Galteri, Seidenari, Bertini, Del Bimbo (ICCV 2017; IEEE TMM 2019), Galteri et al. (IOP 2020)
and Mameli et al.'s NoGAN (ICPR 2020). Images between modules are RGB, float32, NCHW, [0, 1];
file-level code uses uint8 (H, W, 3) arrays.

Sub-packages, each importing only from those below it (a test checks):

    cli             the command line; api, the Python API
    stages          what the stage notebooks call: reports, plots, widgets, notebook runs
    training        the run engine and one recipe per method or model
    inference       release files, restoring images and files, the QF ensemble
    data            images, the corpus, preparation, samplers
    archs, losses, metrics
    degradations    JPEG and its tables
    methods         one module per method, and their registry
    pretrained, config, checkpoints, runtime, fileio
"""

from . import methods  # noqa: F401 - registers every method and its params section

__version__ = "0.2.0"
