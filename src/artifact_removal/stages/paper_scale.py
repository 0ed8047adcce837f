"""How the evaluated systems differ from the papers' at this scale, and why: one table for the
evaluation report, read from the parameters and the data the run used (so it stays true when
a profile changes them).

The papers' side is what they state (DESIGN.md, "The method, as the papers give it"):
Galteri et al. train a 1.15 M-parameter generator (64 filters, 15 residual blocks) on MS-COCO
with a perceptual loss on ImageNet VGG-19 features and a 64-filter discriminator; Mameli et
al. pretrain an ImageNet MobileNetV3 U-Net for 20 h and train its GAN phase for 1 h, on a GPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..archs.generator import build_generator, count_parameters
from ..config import Params, resolve_path
from ..data.prepared import corpus_record_of
from ..pretrained import weights_for

WHY_BUDGET = "minutes per QF on 2 CPU cores; `profiles/paper.yaml` is the papers' size, for a GPU"
SYNTHETIC = "dead_leaves_"  # keys of data.dead_leaves' images (data/prepare.py)
WHY_AVERAGE = (
    "at this scale the held-out scores swing from step to step, and without the average another "
    "processor released another step, 0.26 dB apart (benchmarks/RESULTS.md)"
)
LPIPS_BACKBONES = {"alex": "alexnet", "vgg": "vgg16"}  # lpips_backbone -> torchvision's network


def _corpus(params: Params, root: Path) -> tuple[str, str]:
    """What the generators learnt from, from the prepare stage's record of the corpus and its
    split: (the corpus' name in `data.corpus`, a line saying it and its training photographs)."""
    prepared = resolve_path(params.data.prepared_dir, root)
    held = corpus_record_of(prepared).get("holds", "")
    splits = prepared / "splits.json"
    train = json.loads(splits.read_text()).get("train", []) if splits.is_file() else []
    originals = {key.split("~")[0] for key in train}  # colour variants are `<key>~<order>`
    synthetic = {key for key in originals if key.startswith(SYNTHETIC)}
    photographs = originals - synthetic
    said = [f"{len(train) - len(originals)} colour variants"] if len(train) > len(originals) else []
    if synthetic:
        said.append(f"{len(synthetic)} synthetic dead-leaves images")
    extra = f" ({', '.join(said)})" if said else ""
    name = {"bsds500": "BSDS500", "embedded": "the embedded corpus"}.get(held, held or "the corpus")
    return held, f"{name}: {len(photographs)} training photographs{extra}"


def _steps(section) -> str:
    seen = section.steps * section.batch_size
    return (
        f"{section.steps} steps of {section.batch_size} patches of {section.patch_size} px "
        f"({seen:,} patches)"
    )


def _weights(names: list[str], root: Path) -> str:
    """'ImageNet' when `models/pretrained.yaml` records every one of these networks' weights,
    else 'seeded random'."""
    return "seeded random" if any(weights_for(n, root) is None for n in names) else "ImageNet"


def scale_differences(params: Params, root: str | Path) -> pd.DataFrame:
    """Rows: what differs (the training data, the generator, its training, the GAN's loss and
    discriminator, NoGAN's encoder and schedule); columns: here, the papers, why."""
    root = Path(root)
    ssim, gan = params.train_ssim, params.train_gan
    nogan, nogan_gan = params.train_nogan, params.train_nogan_gan
    paper = count_parameters(build_generator("paper"))
    ours = count_parameters(build_generator(ssim.generator))
    vgg = _weights(["vgg19"], root)
    encoder = nogan.generator.encoder
    nogan_weights = _weights([encoder, LPIPS_BACKBONES[nogan.lpips_backbone]], root)
    no_imagenet = (
        "no ImageNet weights here: seeded random ones stand in, named in every output "
        "(`artifact-removal fetch-models` gets them)"
    )
    corpus, data = _corpus(params, root)
    rows = [
        (
            "training data",
            data,
            "MS-COCO (Galteri et al.)",
            "BSDS500 is what the field's small models (ARCNN, DnCNN) train on, and fits a CPU"
            if corpus == "bsds500"
            else "BSDS500 (the default) was not used: see `data.corpus` and the note under the "
            "title, if any",
        ),
        (
            "generator (ssim, gan)",
            f"`{ssim.generator}` preset, {ours:,} parameters",
            f"{paper:,} parameters: 64 filters, 15 residual blocks",
            WHY_BUDGET,
        ),
        ("training of each ssim generator", _steps(ssim), "on a GPU, to convergence", WHY_BUDGET),
        (
            "GAN: perceptual loss, discriminator, steps",
            f"{vgg} VGG-19, {gan.perceptual_layer}; {gan.discriminator.channels} filters; "
            f"{_steps(gan)}",
            "ImageNet VGG-19, a deep layer; 64 filters",
            no_imagenet if vgg != "ImageNet" else WHY_BUDGET,
        ),
        (
            "GAN: what is released",
            (f"the moving average of the weights (decay {gan.ema:g})" if gan.ema else "the weights")
            + f", at the best of {gan.steps // gan.val_every} validations by held-out "
            + gan.select_by,
            "the trained generator",
            WHY_AVERAGE if gan.ema else "",
        ),
        (
            "NoGAN: encoder and LPIPS, schedule",
            f"{nogan_weights} {encoder} (decoder width {nogan.generator.width:g}) and LPIPS "
            f"({nogan.lpips_backbone}); {sum(p.steps for p in nogan.phases)} pretraining steps, "
            f"{nogan_gan.gan_steps} GAN steps at most",
            "ImageNet MobileNetV3 and LPIPS; 20 h of pretraining and 1 h of GAN on a GPU",
            no_imagenet if nogan_weights != "ImageNet" else WHY_BUDGET,
        ),
    ]
    return pd.DataFrame(rows, columns=["", "here", "the papers", "why"]).set_index("")
