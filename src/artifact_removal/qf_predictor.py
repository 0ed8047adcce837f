"""The QF predictor of Galteri et al. (TMM 2019): a CNN that tells which JPEG quality an image
was compressed with, so that the generator trained for that quality can restore it.

It classifies patches among the ensemble's QFs (`degradation.qualities`) and, with
`train_qf.above_range`, one more class, `ABOVE`: compressed at a higher QF than any of them, or
never compressed at all (a PNG screenshot, a camera's raw output), which the generator of the
highest QF restores, instead of the heavy-handed one a classifier that knows only the ensemble's
QFs picks for them. An image's answer averages the log-probabilities of up to
`predict_patches` patches spread over it. The network
looks at pixels only, so it serves images that carry no quantization tables (PNG copies,
screenshots, video frames) and images compressed more than once; for a JPEG file the tables
themselves give the quality (`jpeg_quality`).

Architecture (this project's choice; the paper does not detail it): a fixed 8x8 DCT of the
luma blocks, then convolutions on the block grid, global average pooling and a linear layer.
Patches are taken on the image's 8x8 grid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .data import quality_dir
from .degradations import decode_jpeg, jpeg_compress
from .images import read_png
from .jpeg_quality import ijg_tables
from .training import TrainingError, load_checkpoint, save_atomic

ABOVE = 100  # the label of the class above the ensemble's QFs (or never compressed)
UNCOMPRESSED_SHARE = 4  # one in this many samples of that class is not compressed at all
ABOVE_TESTS = (90,)  # QFs the evaluation tries that class with, beside uncompressed images


def dct_basis() -> torch.Tensor:
    """The 64 orthonormal 8x8 DCT-II basis images, (64, 1, 8, 8), frequency (u, v) at 8u + v."""
    k = torch.arange(8, dtype=torch.float64)
    scale = torch.full((8,), (2 / 8) ** 0.5, dtype=torch.float64)
    scale[0] = (1 / 8) ** 0.5
    cos = scale[:, None] * torch.cos((2 * k[None, :] + 1) * k[:, None] * torch.pi / 16)  # (u, x)
    return torch.einsum("ux,vy->uvxy", cos, cos).reshape(64, 1, 8, 8).float()


def labels_of(classes: Sequence[int], above: bool) -> tuple[int, ...]:
    """The classifier's labels: the ensemble's QFs, then `ABOVE` when it has that class."""
    return tuple(classes) + ((ABOVE,) if above else ())


class QFNet(nn.Module):
    """Patch (N, 3, P, P) in [0, 1], P a multiple of 8 -> logits (N, len(labels)).

    `labels` are the QFs of `classes`, then `ABOVE` when `above` is set.

    A fixed layer takes the 8x8 DCT of each block of luma (BT.601 Y, 0..255), as the JPEG
    encoder did. The network then sees, per block and frequency, log(1 + |coefficient|), where
    quantization shows as coefficients that vanish as the QF falls, and, for each class, the
    cosine of 2 pi coefficient / step, with that class's libjpeg quantization step: close to 1
    when the coefficient sits on the class's lattice, as all of them do for the true class
    (up to the rounding of the decoded pixels).
    """

    def __init__(self, classes: tuple[int, ...], channels: int = 32, above: bool = False):
        super().__init__()
        self.classes, self.channels, self.above = tuple(classes), channels, above
        self.labels = labels_of(self.classes, above)
        self.register_buffer("dct", dct_basis(), persistent=False)
        self.register_buffer("luma", torch.tensor([65.481, 128.553, 24.966]).view(1, 3, 1, 1),
                             persistent=False)  # fmt: skip
        c = channels

        def layer(cin: int, cout: int, kernel: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
                    nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]  # fmt: skip

        steps = np.stack([ijg_tables(q)[0].ravel() for q in self.classes])  # (K, 64)
        self.register_buffer("steps", torch.tensor(steps, dtype=torch.float32).view(1, -1, 1, 1),
                             persistent=False)  # fmt: skip
        inputs = 64 * (1 + len(self.classes))
        self.features = nn.Sequential(
            nn.BatchNorm2d(inputs),
            *layer(inputs, 4 * c, 1),
            *layer(4 * c, 4 * c, 3),
            *layer(4 * c, 4 * c, 1),
        )
        self.head = nn.Linear(4 * c, len(self.labels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits over `labels`."""
        y = (x * self.luma).sum(dim=1, keepdim=True) + 16 - 128  # (N, 1, P, P), level-shifted
        coefficients = F.conv2d(y, self.dct, stride=8)  # (N, 64, P/8, P/8)
        lattice = torch.cos(
            2 * torch.pi * coefficients.repeat(1, len(self.classes), 1, 1) / self.steps
        )
        features = torch.cat([torch.log1p(coefficients.abs()), lattice], dim=1)
        return self.head(self.features(features).mean(dim=(2, 3)))


class QFSampler:
    """Labelled patches of every QF of a prepared set, deterministic given (seed, step).

    Each sample takes a random patch position from `patches/<set>_<size>.csv` (on the block
    grid), a random class and one of the 8 flips/rotations (which keep blocks whole). With
    `above_range` (low, high), samples of the class `ABOVE` are the original patch compressed
    at a QF drawn from low..high, or, one time in `UNCOMPRESSED_SHARE`, not compressed.
    """

    def __init__(self, prepared_dir: Path, classes: tuple[int, ...], patch_size: int, seed: int,
                 set_name: str = "train", above_range: tuple[int, int] | None = None):  # fmt: skip
        index_file = prepared_dir / "patches" / f"{set_name}_{patch_size}.csv"
        if not index_file.is_file():
            raise TrainingError(f"{index_file}: no patch index; run the prepare stage first")
        index = pd.read_csv(index_file)
        if index.empty:
            raise TrainingError(f"{index_file}: no {patch_size}x{patch_size} patch fits any image")
        set_dir = prepared_dir / "sets" / set_name
        keys = list(dict.fromkeys(index["key"]))
        self.images = [
            [
                torch.from_numpy(
                    _as_rgb(decode_jpeg((set_dir / quality_dir(q) / f"{k}.jpg").read_bytes()))
                )
                for k in keys
            ]
            for q in classes
        ]
        self.originals = (
            [torch.from_numpy(_as_rgb(read_png(set_dir / "gt" / f"{k}.png"))) for k in keys]
            if above_range
            else []
        )
        self.above_range = above_range
        self.labels = labels_of(classes, above_range is not None)
        position = {k: i for i, k in enumerate(keys)}
        self.key = torch.tensor(index["key"].map(position).to_numpy())
        self.y, self.x = torch.tensor(index["y"].to_numpy()), torch.tensor(index["x"].to_numpy())
        self.size, self.seed, self.classes = patch_size, seed, classes

    def batch(self, step: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Patches (n, 3, P, P) in [0, 1] and their indices in `labels` (n,)."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        picks = torch.randint(len(self.key), (size,), generator=gen)
        labels = torch.randint(len(self.labels), (size,), generator=gen)
        moves = torch.randint(8, (size,), generator=gen)
        low, high = self.above_range or (0, 0)
        qualities = torch.randint(low, high + 1, (size,), generator=gen)
        plain = torch.randint(UNCOMPRESSED_SHARE, (size,), generator=gen) == 0
        patches = []
        for i, label, move, quality, raw in zip(picks, labels, moves, qualities, plain,
                                                strict=True):  # fmt: skip
            y, x, p = int(self.y[i]), int(self.x[i]), self.size
            if label < len(self.classes):
                patch = self.images[int(label)][int(self.key[i])][y : y + p, x : x + p]
            else:  # above the ensemble: compressed here (on the grid), or not at all
                patch = self.originals[int(self.key[i])][y : y + p, x : x + p]
                if not raw:
                    patch = torch.from_numpy(jpeg_compress(patch.numpy(), int(quality)).pixels)
            patch = patch.permute(2, 0, 1)
            patch = torch.rot90(patch, int(move) % 4, dims=(1, 2))
            patches.append(patch.flip(2) if move >= 4 else patch)
        return torch.stack(patches).float() / 255, labels


def _as_rgb(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) pixels; gray images as three equal channels."""
    return np.repeat(pixels[:, :, None], 3, axis=2) if pixels.ndim == 2 else pixels


def patch_grid(shape: tuple[int, ...], patch: int, count: int) -> list[tuple[int, int]]:
    """Up to `count` top-left corners of patches on the 8x8 grid, spread evenly over an image.

    Images smaller than a patch give one corner (the image is then padded, see `predict`).
    """
    height, width = shape[:2]
    ys = list(range(0, max(height - patch, 0) + 1, patch)) or [0]
    xs = list(range(0, max(width - patch, 0) + 1, patch)) or [0]
    corners = [(y, x) for y in ys for x in xs]
    if len(corners) <= count:
        return corners
    pick = np.linspace(0, len(corners) - 1, count).round().astype(int)
    return [corners[i] for i in pick]


@torch.inference_mode()
def grid_offset(image: np.ndarray, region: int = 512) -> tuple[int, int]:
    """Where the 8x8 block grid of a decoded JPEG starts, (dy, dx) in 0..7.

    On its own grid a JPEG's blocks have sparse DCTs: quantization set most AC coefficients
    to zero, and decoding keeps them near it. Blocks straddling the grid mix two blocks and
    are not sparse. The offset is the phase with the smallest mean log(1 + |AC|), over a
    central region of at most `region` pixels square. (Blockiness, the jump in pixels across
    block borders, fades as the QF rises, and some photographs have structure of their own
    at the period of 8 rows: it was wrong for 19 of 756 LIVE1 and Classic5 images, this for
    none.) A crop of a JPEG has its grid shifted; an uncropped one gives (0, 0).
    """
    luma = (
        image.astype(np.float32)
        if image.ndim == 2
        else image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    )
    height, width = luma.shape
    if height < 16 or width < 16:
        return 0, 0
    h, w = min(height, region + 7), min(width, region + 7)
    y0, x0 = (height - h) // 16 * 8, (width - w) // 16 * 8  # on the image's own phase
    crop = torch.from_numpy(np.ascontiguousarray(luma[y0 : y0 + h, x0 : x0 + w]))[None, None]
    ac = F.conv2d(crop, dct_basis()[1:])  # the 63 AC coefficients of the block at every pixel
    sparsity = torch.log1p(ac.abs()).mean(dim=1)[0].numpy()
    scores = np.array([[sparsity[dy::8, dx::8].mean() for dx in range(8)] for dy in range(8)])
    dy, dx = np.unravel_index(int(scores.argmin()), scores.shape)
    return int(dy), int(dx)


@dataclass(frozen=True)
class QFPrediction:
    """The predicted QF of an image (`ABOVE`: above the ensemble's QFs, or never compressed),
    the probability of every label, and the block grid used."""

    quality: int
    probabilities: dict[int, float]
    offset: tuple[int, int] = (0, 0)

    @property
    def label(self) -> str:
        """The answer in words: '30', or 'above 60' for `ABOVE`."""
        return label_name(self.quality, tuple(self.probabilities))

    @property
    def confidence(self) -> float:
        """The probability of the predicted class."""
        return self.probabilities[self.quality]


@torch.inference_mode()
def predict(net: QFNet, image: np.ndarray, count: int = 32, patch: int = 64,
            device: torch.device | str = "cpu") -> QFPrediction:  # fmt: skip
    """The QF of an (H, W, 3) or (H, W) uint8 image: mean log-probability over its patches.

    Patches are taken on the image's block grid (`grid_offset`), so crops work too.
    """
    rgb = _as_rgb(image)
    dy, dx = grid_offset(rgb)
    if rgb.shape[0] - dy >= patch and rgb.shape[1] - dx >= patch:
        rgb = rgb[dy:, dx:]
    else:
        dy = dx = 0
    if rgb.shape[0] < patch or rgb.shape[1] < patch:  # too small: pad by reflection
        pad_y, pad_x = max(patch - rgb.shape[0], 0), max(patch - rgb.shape[1], 0)
        rgb = np.pad(rgb, ((0, pad_y), (0, pad_x), (0, 0)), mode="symmetric")
    crops = [rgb[y : y + patch, x : x + patch] for y, x in patch_grid(rgb.shape, patch, count)]
    batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().to(device) / 255
    log_p = F.log_softmax(net(batch).float(), dim=1).mean(dim=0)
    probabilities = torch.softmax(log_p, dim=0).cpu().numpy()
    labels = net.labels
    return QFPrediction(
        labels[int(probabilities.argmax())],
        {q: float(p) for q, p in zip(labels, probabilities, strict=True)},
        (dy, dx),
    )


def label_name(label: int, labels: Sequence[int]) -> str:
    """'30' for a QF, 'above 60' for `ABOVE` (60 being the highest of the other labels)."""
    if label == ABOVE and len(labels) > 1:
        return f"above {max(q for q in labels if q != ABOVE)}"
    return str(label)


def confusion_matrix(
    predicted: list[int], target: list[int], classes: tuple[int, ...]
) -> pd.DataFrame:
    """Counts laid out as the talk slides: rows predicted QF, columns target QF (`classes`
    are the labels, `ABOVE` included when the predictor has it)."""
    table = pd.DataFrame(0, index=pd.Index(classes, name="predicted"),
                         columns=pd.Index(classes, name="target"))  # fmt: skip
    for p, t in zip(predicted, target, strict=True):
        table.loc[p, t] += 1
    return table


def named(table: pd.DataFrame) -> pd.DataFrame:
    """The confusion matrix with `ABOVE` written as 'above 60', for people and CSV files."""
    names = {q: label_name(q, list(table.columns)) for q in table.columns}
    return table.rename(index=names, columns=names)


def accuracies(table: pd.DataFrame) -> dict[str, float]:
    """Overall accuracy, each class's accuracy (recall: `class_30`, `class_above`) and their
    mean over the ensemble's QFs (`ABOVE` apart: it is not one of the ensemble's classes)."""
    counts = table.to_numpy()
    per_class = np.diag(counts) / np.maximum(counts.sum(axis=0), 1)
    in_range = [a for q, a in zip(table.columns, per_class, strict=True) if q != ABOVE]
    names = ["above" if q == ABOVE else q for q in table.columns]
    return {
        "accuracy": float(np.trace(counts) / max(counts.sum(), 1)),
        "mean_class_accuracy": float(np.mean(in_range)),
        **{f"class_{q}": float(a) for q, a in zip(names, per_class, strict=True)},
    }


def save_predictor(net: QFNet, path: Path, identity: dict | None = None) -> None:
    """A weights-only release file: weights, classes, width, whether it has `ABOVE`."""
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_atomic({"model": state, "classes": list(net.classes), "channels": net.channels,
                 "above": net.above, "method": "qf_predictor", "identity": identity or {}},
                path)  # fmt: skip


def load_predictor(path: Path, device: torch.device | str = "cpu") -> QFNet:
    """A QF predictor from its release file or checkpoint (loaded with weights_only=True)."""
    checkpoint = load_checkpoint(Path(path))
    if "classes" not in checkpoint:
        raise TrainingError(f"{path}: not a QF predictor (no 'classes' entry)")
    net = QFNet(tuple(int(q) for q in checkpoint["classes"]), int(checkpoint["channels"]),
                bool(checkpoint.get("above", False)))  # fmt: skip
    try:
        net.load_state_dict(checkpoint["model"])
    except RuntimeError as err:
        raise TrainingError(f"{path}: weights do not fit the predictor it describes "
                            f"({str(err).splitlines()[0][:200]})") from None  # fmt: skip
    return net.to(device).eval()


@dataclass
class QFRun:
    """One training run of the QF predictor, resolved from params."""

    classes: tuple[int, ...]
    channels: int
    patch_size: int
    batch_size: int
    steps: int
    lr: float
    checkpoint_every: int
    seed: int
    prepared_dir: Path
    release: Path
    checkpoint: Path
    identity: dict = field(default_factory=dict)
    predict_patches: int = 32
    above_range: tuple[int, int] | None = None

    @classmethod
    def from_params(cls, params, root: Path) -> QFRun:
        """The run of `params.train_qf` over `params.degradation.qualities`."""
        from .config import params_to_dict, resolve_path

        qf = params.train_qf
        plain = params_to_dict(params)
        identity = {"seed": params.seed, "classes": list(params.degradation.qualities),
                    "train": plain["train_qf"], "data": plain["data"]}  # fmt: skip
        identity["train"].pop("checkpoint_every")
        identity["train"].pop("predict_patches")
        return cls(
            tuple(params.degradation.qualities), qf.channels, qf.patch_size, qf.batch_size,
            qf.steps, qf.lr, qf.checkpoint_every, params.seed,
            resolve_path(params.data.prepared_dir, root),
            resolve_path(qf.models_dir, root) / "predictor.pt",
            resolve_path("build/checkpoints", root) / "qf" / "predictor.pt",
            identity, qf.predict_patches, qf.above_range,
        )  # fmt: skip


def evaluate_qf(net: QFNet, prepared_dir: Path, sets: Sequence[str], count: int = 32,
                device: torch.device | str = "cpu",
                progress: bool = True) -> dict[str, pd.DataFrame]:  # fmt: skip
    """Confusion matrices of the predictor on every image of each prepared set at every QF.

    The predictor sees decoded pixels only (the files' tables would give the answer away).
    With the class `ABOVE`, its column holds each image compressed at `ABOVE_TESTS` QFs and
    the image itself, never compressed.
    """
    tables = {}
    for name in sets:
        set_dir = prepared_dir / "sets" / name
        keys = sorted(p.stem for p in (set_dir / "gt").glob("*.png"))
        if not keys:
            raise TrainingError(f"{set_dir}: no prepared images; run the prepare stage first")
        predicted, target = [], []
        jobs = [(q, k) for q in net.classes for k in keys]
        if net.above:
            jobs += [(q, k) for q in (*ABOVE_TESTS, None) for k in keys]
        for quality, key in tqdm(jobs, desc=f"qf predictor on {name}", disable=not progress):
            if quality in net.classes:
                pixels = decode_jpeg((set_dir / quality_dir(quality) / f"{key}.jpg").read_bytes())
            else:
                pixels = read_png(set_dir / "gt" / f"{key}.png")
                if quality is not None:
                    pixels = jpeg_compress(pixels, quality).pixels
            predicted.append(predict(net, pixels, count, device=device).quality)
            target.append(quality if quality in net.classes else ABOVE)
        tables[name] = confusion_matrix(predicted, target, net.labels)
    return tables


def write_qf_reports(tables: Mapping[str, pd.DataFrame], history: list[dict], out_dir: Path,
                     figures_dir: Path) -> dict:  # fmt: skip
    """`confusion/<set>.csv`, metrics.json (DVC metrics) and the confusion figure; the metrics."""
    from .data import write_json
    from .plots import confusion_figure, save_figure

    (out_dir / "confusion").mkdir(parents=True, exist_ok=True)
    metrics: dict = {}
    for name, table in tables.items():
        named(table).to_csv(out_dir / "confusion" / f"{name}.csv")
        metrics[name] = {k: round(v, 4) for k, v in accuracies(table).items()}
        metrics[name]["images"] = int(table.to_numpy().sum())
    if history:
        metrics["train"] = {k: round(v, 4) for k, v in history[-1].items() if k != "step"}
        metrics["train"]["steps"] = history[-1]["step"]
    write_json(metrics, out_dir / "metrics.json")
    title = "QF predictor, images of each target QF"
    if any(ABOVE in table.columns for table in tables.values()):
        tried = ", ".join(str(q) for q in ABOVE_TESTS)
        title += f"\n(target 'above': each image at QF {tried} and never compressed)"
    means = {name: metrics[name]["mean_class_accuracy"] for name in tables}
    figure = confusion_figure({name: named(t) for name, t in tables.items()}, means, title)
    save_figure(figure, figures_dir / "train_qf_confusion.png")
    return metrics


def train_qf(run: QFRun, device: torch.device, progress: bool = True) -> list[dict]:
    """Train (or resume) the QF predictor; write the release; return the loss history."""
    from .runtime import seed_everything

    seed_everything(run.seed)
    sampler = QFSampler(run.prepared_dir, run.classes, run.patch_size, run.seed,
                        above_range=run.above_range)  # fmt: skip
    net = QFNet(run.classes, run.channels, above=run.above_range is not None).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=run.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, run.steps)
    start, history = 0, []
    if run.checkpoint.is_file():
        saved = load_checkpoint(run.checkpoint)
        if saved.get("identity") == run.identity:
            net.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            start, history = int(saved["step"]), list(saved["history"])
    bar = tqdm(range(start + 1, run.steps + 1), desc="train qf predictor", disable=not progress,
               initial=start, total=run.steps, unit="step")  # fmt: skip
    window: list[tuple[float, float]] = []
    for step in bar:
        patches, labels = sampler.batch(step, run.batch_size)
        logits = net(patches.to(device))
        loss = F.cross_entropy(logits, labels.to(device))
        if not torch.isfinite(loss):
            raise TrainingError(f"QF predictor: the loss became {float(loss)} at step {step}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        hits = (logits.argmax(1).cpu() == labels).float().mean()
        window.append((float(loss.detach()), float(hits)))
        if step % 10 == 0 or step == run.steps:
            loss_mean, acc_mean = np.mean(window, axis=0)
            history.append(
                {"step": step, "loss": float(loss_mean), "patch_accuracy": float(acc_mean)}
            )
            window = []
            bar.set_postfix(loss=f"{loss_mean:.3f}", acc=f"{acc_mean:.2f}")
        if step % run.checkpoint_every == 0 or step == run.steps:
            state = {"model": net.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "step": step, "history": history,
                     "classes": list(run.classes), "channels": run.channels,
                     "above": net.above, "identity": run.identity}  # fmt: skip
            save_atomic(state, run.checkpoint)
    net.eval()
    save_predictor(net, run.release, run.identity)
    return history
