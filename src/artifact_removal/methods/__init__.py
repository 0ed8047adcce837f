"""The restoration methods, one module each, registered when this package is imported.

    registry    what a method is (`Method`), the registry and its lookups
    predictors  the level predictors (QF, CRF), registered like the methods
    checks      the rules over several sections that need the registry
    ssim        Galteri et al.'s supervised generator (SSIM/MSE)
    gan         Galteri et al.'s GAN
    video       the same two on H.264 frames (Galteri et al. 2020)
    nogan       Mameli et al.'s NoGAN, before and after its GAN phase

A method's module declares its params schema, its cross-key checks and its `Method` (trainer
module, report, ensemble rule, stage and notebook, the strings shown to users), with the
`method` decorator on its schema or with `register`. Every module of this package is imported
here, so a new method is a new module and nothing else: the params, the command line, the
pipeline file (`python -m artifact_removal.stages.pipeline write`), evaluation, restoration,
the comparison and the study read the registry.
"""

from __future__ import annotations

import importlib
import pkgutil

from .registry import (
    BASELINES,
    METHODS,
    REPORT_FIGURES,
    Combine,
    Method,
    combine_of,
    describe,
    get,
    label_of,
    method,
    method_help,
    models_dir,
    module_of,
    prepared_dir_of,
    put_in_order,
    qualities_of,
    register,
)

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
put_in_order()

__all__ = [
    "BASELINES",
    "METHODS",
    "REPORT_FIGURES",
    "Combine",
    "Method",
    "combine_of",
    "describe",
    "get",
    "label_of",
    "method",
    "method_help",
    "models_dir",
    "module_of",
    "prepared_dir_of",
    "qualities_of",
    "register",
]
