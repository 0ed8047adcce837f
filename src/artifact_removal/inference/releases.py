"""Release files: the weights-only files that training writes and inference reads.

A release is one `torch.save`d dict, loaded with `weights_only=True`, that carries everything
needed to rebuild and use its network without the training code:

    model        the weights (a state dict)
    arch         the registered network (`archs.registry`): `generator` (Galteri et al.'s),
                 `unet` (NoGAN's), `qf_net`
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
from pathlib import Path

import torch

from ..archs.qf_net import QFNet
from ..archs.registry import architectures, of
from ..checkpoints import FORMAT, CheckpointError, load_checkpoint


def generator_release(net: torch.nn.Module) -> dict:
    """The network part of a generator's release file (weights on the CPU, architecture)."""
    return _network_release(net)


def predictor_release(net: QFNet) -> dict:
    """The network part of the QF predictor's release file."""
    return _network_release(net)


def _network_release(net: torch.nn.Module) -> dict:
    """Weights, the registered architecture's name and the arguments that rebuild it."""
    arch = of(net)
    return {
        "model": _weights(net),
        "arch": arch.name,
        "model_args": arch.arguments(net),
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
        raise CheckpointError(
            f"{path}: another architecture than the one it describes ({first}{more})"
        ) from None
    return net


def load_generator(path: Path, device: torch.device | str = "cpu") -> torch.nn.Module:
    """Rebuild a generator from a release file (or a training checkpoint), in eval mode.

    `net.release` keeps what the file says of itself: method, QF, and the GAN's perceptual
    loss (`loss`, e.g. `vgg19_relu5_4`, or a fallback's name such as `random_vgg19_relu2_2`).
    """
    saved = load_checkpoint(Path(path))
    arch = architectures().get(saved.get("arch", "generator"))
    if arch is None or arch.role != "generator" or "model_args" not in saved:
        what = saved.get("method") or saved.get("arch") or "something else"
        raise CheckpointError(f"{path}: not a generator's release file (it holds {what})")
    try:
        weights = saved["model"]
        weights = weights.get("g", weights) if _nested(weights) else weights
        net = _rebuild(Path(path), arch.build(saved["model_args"]), weights)
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise CheckpointError(
            f"{path}: not a valid generator file ({err.__class__.__name__}: {str(err)[:160]})"
        ) from None
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
    arch = architectures().get(saved.get("arch"))
    if arch is None or arch.role != "predictor" or "model_args" not in saved:
        what = saved.get("method") or saved.get("arch") or "something else"
        raise CheckpointError(f"{path}: not a QF predictor's release file (it holds {what})")
    try:
        net = _rebuild(Path(path), arch.build(saved["model_args"]), saved["model"])
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise CheckpointError(
            f"{path}: not a valid QF predictor file ({err.__class__.__name__}: {str(err)[:160]})"
        ) from None
    return net.to(device).eval()


def find_releases(folder: Path) -> dict[int, Path]:
    """{QF: file} of the `q<QF>.pt` release files in a folder (none when it is missing)."""
    found = {}
    for path in sorted(Path(folder).glob("q*.pt")) if Path(folder).is_dir() else []:
        match = re.fullmatch(r"q(\d+)\.pt", path.name)
        if match:
            found[int(match.group(1))] = path
    return found
