"""Pretrained ImageNet weights: torchvision's cache, and a manifest that DVC can see.

The perceptual loss (VGG-19) and LPIPS (AlexNet) need torchvision's ImageNet weights, which
live in torchvision's cache, `$TORCH_HOME/hub/checkpoints/<file>`: torchvision downloads them
there when online, and an offline user copies them there. Nothing here downloads.

Which of them a machine has changes what the stages compute, yet the cache lies outside the
project, where DVC does not look. So `refresh_manifest` (the command `artifact-removal
pretrained`, which `make repro` runs before `dvc repro`) writes what it finds into
`models/pretrained.yaml`, one key per backbone: `absent`, or the file and its sha256. Stages
list the keys they use as params of that file, so adding VGG-19's weights makes the GAN
stages (and what depends on them) stale, and nothing else. At run time a stage takes the
weights that the manifest names, and checks their hash, never what the cache holds now: its
result depends only on what DVC saw.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .config import read_yaml
from .fileio import sha256, write_text

MANIFEST = Path("models") / "pretrained.yaml"
# backbone -> torchvision's file name; the name ends in the first 8 hex digits of its sha256.
BACKBONES = {
    "vgg19": "vgg19-dcbb9e9d.pth",  # the GAN's perceptual loss (IMAGENET1K_V1)
    "alexnet": "alexnet-owt-7be5be79.pth",  # LPIPS's backbone (metric; NoGAN's loss)
    "vgg16": "vgg16-397923af.pth",  # LPIPS's other backbone (NoGAN's loss, by parameter)
    "mobilenet_v3_large": "mobilenet_v3_large-5c1a4163.pth",  # NoGAN's encoder (IMAGENET1K_V2)
    "mobilenet_v3_small": "mobilenet_v3_small-047dcff4.pth",  # NoGAN "small"
    "resnet34": "resnet34-b627a593.pth",  # the U-Net of the paper's speed comparison
    "fasterrcnn_resnet50_fpn": "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth",  # detection (COCO)
}
# the lpips package's backbone names -> BACKBONES (the metric's AlexNet; NoGAN's loss, either)
LPIPS_BACKBONES = {"alex": "alexnet", "vgg": "vgg16"}
# backbone -> torchvision's weights enum entry, which knows the file's address
TORCHVISION_WEIGHTS = {
    "vgg19": "VGG19_Weights.IMAGENET1K_V1",
    "alexnet": "AlexNet_Weights.IMAGENET1K_V1",
    "vgg16": "VGG16_Weights.IMAGENET1K_V1",
    "mobilenet_v3_large": "MobileNet_V3_Large_Weights.IMAGENET1K_V2",
    "mobilenet_v3_small": "MobileNet_V3_Small_Weights.IMAGENET1K_V1",
    "resnet34": "ResNet34_Weights.IMAGENET1K_V1",
    "fasterrcnn_resnet50_fpn": "FasterRCNN_ResNet50_FPN_Weights.COCO_V1",
}
ABSENT = "absent"
HEADER = """\
# Which ImageNet backbones torchvision's cache held when `artifact-removal pretrained` last ran
# (`make repro` runs it first): `absent`, or the file and its sha256. Stages that use a backbone
# depend on its key, so adding the weights reruns them and nothing else. Written, not edited.
"""


class MissingWeightsError(RuntimeError):
    """Pretrained weights are absent or differ from what the manifest says; says what to do."""


def cache_path(file: str) -> Path:
    """Where torchvision looks for pretrained weights: $TORCH_HOME/hub/checkpoints/<file>."""
    import torch  # here, so that the command line's --help does not wait for torch

    return Path(torch.hub.get_dir()) / "checkpoints" / file


def inspect(name: str) -> tuple[str, str]:
    """(manifest entry, note) for one backbone: what torchvision's cache holds for it."""
    file = BACKBONES[name]
    path = cache_path(file)
    if not path.is_file():
        return ABSENT, f"{name}: {file} not in {path.parent}"
    digest = sha256(path)
    expected = file.rsplit("-", 1)[-1].split(".")[0]
    if not digest.startswith(expected):
        return ABSENT, f"{name}: {path} is not torchvision's file (sha256 {digest[:8]}...)"
    return f"{file} sha256:{digest}", f"{name}: {path}"


def read_manifest(root: Path) -> dict[str, str]:
    """The manifest's entries (every backbone absent when there is no manifest)."""
    path = Path(root) / MANIFEST
    found = (read_yaml(path) or {}) if path.is_file() else {}
    return {name: str(found.get(name, ABSENT)) for name in BACKBONES}


def refresh_manifest(root: Path) -> tuple[dict[str, str], list[str]]:
    """Write the manifest from torchvision's cache (only when it changes); entries and notes."""
    entries, notes = {}, []
    for name in BACKBONES:
        entries[name], note = inspect(name)
        notes.append(note)
    path = Path(root) / MANIFEST
    text = HEADER + yaml.safe_dump(entries, sort_keys=False)
    if not path.is_file() or path.read_text() != text:
        write_text(path, text)
    return entries, notes


def weights_for(name: str, root: Path | None) -> Path | None:
    """The weights file the manifest names for `name`, checked; None when it says absent.

    Without a project (`root` None) the cache itself decides. A manifest that names a file
    the cache no longer holds, or holds with another hash, is an error that says how to fix it.
    """
    entry = inspect(name)[0] if root is None else read_manifest(root)[name]
    if entry == ABSENT:
        return None
    file, _, digest = entry.partition(" sha256:")
    path = cache_path(file)
    if not path.is_file() or (root is not None and sha256(path) != digest):
        raise MissingWeightsError(
            f"{Path(root or '.') / MANIFEST} says {name} is {file} (sha256 {digest[:12]}...), "
            f"but {path} is {'another file' if path.is_file() else 'missing'}: put the file "
            "back, or run `artifact-removal pretrained` to record what the cache holds now"
        )
    return path


def unrecorded(name: str, root: Path) -> str | None:
    """A note when torchvision's cache holds the weights but the manifest says absent."""
    if read_manifest(root)[name] != ABSENT or inspect(name)[0] == ABSENT:
        return None
    return (
        f"{cache_path(BACKBONES[name])} is in torchvision's cache, but {MANIFEST} records "
        f"{name} as absent, so this run does not use it: run `artifact-removal pretrained` "
        "(make repro does) and the stages that use it will rerun"
    )


def url_of(name: str) -> str:
    """Where torchvision downloads a backbone's file from."""
    from torchvision.models import get_weight

    return get_weight(TORCHVISION_WEIGHTS[name]).url


def fetch(name: str, timeout: float = 30.0) -> str:
    """Download one backbone's file into torchvision's cache, unless it is there already,
    checking that its sha256 starts with the digits in its name; a line saying what happened.
    Network errors propagate (OSError)."""
    import socket

    import torch

    file = BACKBONES[name]
    path = cache_path(file)
    if inspect(name)[0] != ABSENT:
        return f"{name}: {path} (already there, hash checked)"
    expected = file.rsplit("-", 1)[-1].split(".")[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:  # torchvision's own downloader: a temporary file, renamed once the hash matches
        torch.hub.download_url_to_file(url_of(name), str(path), hash_prefix=expected, progress=True)
    except RuntimeError as err:  # the hash did not match; torch removed its temporary file
        raise MissingWeightsError(f"{name}: {url_of(name)} gave another file ({err})") from None
    finally:
        socket.setdefaulttimeout(previous)
    return f"{name}: {path} (downloaded, sha256 {sha256(path)[:16]}...)"
