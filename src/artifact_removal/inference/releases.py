"""Release files: the weights-only files that training writes and inference reads.

A release is one `torch.save`d dict, loaded with `weights_only=True`, that carries everything
needed to rebuild and use its network without the training code:

    model        the weights (a state dict)
    arch         `generator` (Galteri et al.'s), `unet` (NoGAN's) or `qf_net`
    model_args   the keyword arguments of that network
    method       the method (`ssim`, `gan`, `nogan_pre`, `nogan`) or `qf_predictor`
    quality      the JPEG QF it was trained for (generators)
    format       the file layout's version (`checkpoints.FORMAT`); newer files are refused
    identity     a fingerprint of the run's parameters and data
    run          what that fingerprint hashes: the params section, seed, QF, the fingerprints
                 of the files it read (not of the code: dvc.lock ties a file to its code, and
                 a refactor that keeps the weights keeps the file)
    loss         what the GAN's perceptual loss was (e.g. `random_vgg19_relu2_2`), or NoGAN's
                 (e.g. `random_alex_lpips + l1`)
    encoder      NoGAN's encoder initialisation (`mobilenet_v3_large-5c1a4163.pth`, or
                 `random_mobilenet_v3_large` without ImageNet weights)
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import torch

from ..archs.generator import Generator, GeneratorConfig
from ..archs.qf_net import QFNet
from ..archs.unet import UNet, UNetConfig
from ..checkpoints import FORMAT, CheckpointError, load_checkpoint

# the generators' architectures: release `arch` -> (network class, its config class)
GENERATORS = {"generator": (Generator, GeneratorConfig), "unet": (UNet, UNetConfig)}


def generator_release(net: Generator | UNet) -> dict:
    """The network part of a generator's release file (weights on the CPU, architecture)."""
    return {
        "model": _weights(net),
        "arch": "unet" if isinstance(net, UNet) else "generator",
        "model_args": asdict(net.config),
        "format": FORMAT,
    }


def predictor_release(net: QFNet) -> dict:
    """The network part of the QF predictor's release file."""
    return {
        "model": _weights(net),
        "arch": "qf_net",
        "model_args": net.arguments(),
        "format": FORMAT,
    }


def _weights(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A network's state dict, detached copies on the CPU."""
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}


def _rebuild(path: Path, net: torch.nn.Module, weights: dict) -> torch.nn.Module:
    """Load `weights` into `net`; a mismatch is a one-line error naming the file."""
    try:
        net.load_state_dict(weights)
    except RuntimeError as err:
        lines = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
        first = (lines[0] if lines else str(err))[:160]
        more = f", and {len(lines) - 1} more" if len(lines) > 1 else ""
        raise CheckpointError(f"{path}: another architecture than the one it describes "
                              f"({first}{more})") from None  # fmt: skip
    return net


def load_generator(path: Path, device: torch.device | str = "cpu") -> Generator:
    """Rebuild a generator from a release file (or a training checkpoint), in eval mode.

    `net.release` keeps what the file says of itself: method, QF, and the GAN's perceptual
    loss (`loss`, e.g. `vgg19_relu5_4`, or a fallback's name such as `random_vgg19_relu2_2`).
    """
    saved = load_checkpoint(Path(path))
    if saved.get("arch", "generator") not in GENERATORS or "model_args" not in saved:
        what = saved.get("method") or saved.get("arch") or "something else"
        raise CheckpointError(f"{path}: not a generator's release file (it holds {what})")
    network, config_class = GENERATORS[saved.get("arch", "generator")]
    try:
        config = config_class(**saved["model_args"])
        weights = saved["model"]
        weights = weights.get("g", weights) if _nested(weights) else weights
        net = _rebuild(Path(path), network(config), weights)
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise CheckpointError(f"{path}: not a valid generator file ({err.__class__.__name__}: "
                              f"{str(err)[:160]})") from None  # fmt: skip
    net.release = {k: saved[k] for k in ("method", "quality", "loss", "encoder") if k in saved}
    trained = saved.get("run", {}).get("settings", {}).get("loss")
    if isinstance(trained, dict) and "loss" not in saved:  # a supervised generator's loss
        # terms, e.g. {ssim: 1, l1: 1}
        net.release["loss"] = " + ".join(f"{w:g} {name}" for name, w in trained.items())
    return net.to(device).eval()


def _nested(model: dict) -> bool:
    """True for a training checkpoint's {network name: state dict}."""
    return bool(model) and all(isinstance(v, dict) for v in model.values())


def load_predictor(path: Path, device: torch.device | str = "cpu") -> QFNet:
    """The QF predictor from its release file (loaded with weights_only=True), in eval mode."""
    saved = load_checkpoint(Path(path))
    if saved.get("arch") != "qf_net" or "model_args" not in saved:
        what = saved.get("method") or saved.get("arch") or "something else"
        raise CheckpointError(f"{path}: not a QF predictor's release file (it holds {what})")
    try:
        args = saved["model_args"]
        net = QFNet(tuple(int(q) for q in args["classes"]), int(args["channels"]),
                    bool(args["above"]), float(args.get("temperature", 1.0)))  # fmt: skip
        net = _rebuild(Path(path), net, saved["model"])
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise CheckpointError(f"{path}: not a valid QF predictor file ({err.__class__.__name__}: "
                              f"{str(err)[:160]})") from None  # fmt: skip
    return net.to(device).eval()


def find_releases(folder: Path) -> dict[int, Path]:
    """{QF: file} of the `q<QF>.pt` release files in a folder (none when it is missing)."""
    found = {}
    for path in sorted(Path(folder).glob("q*.pt")) if Path(folder).is_dir() else []:
        match = re.fullmatch(r"q(\d+)\.pt", path.name)
        if match:
            found[int(match.group(1))] = path
    return found
