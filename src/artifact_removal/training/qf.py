"""The QF predictor of Galteri et al. (TMM 2019): its recipe for the run engine.

The network (`archs.qf_net.QFNet`) learns to tell which of the ensemble's QFs a patch was
compressed with and, with `train_qf.above_range`, one more class, "above": compressed at a
higher QF than any of them, or never compressed at all (a PNG screenshot, a camera's raw
output). Images of that class go to the generator of the highest QF, instead of the
heavy-handed one a classifier that knows only the ensemble's QFs picks for them.

Batches are labelled patches of the train split on the JPEG block grid (`data.samplers.
QFSampler`); the loss is the cross-entropy, with Adam and a cosine schedule. Every `val_every`
steps each validation image at every QF (and, for "above", at QF 90 and uncompressed) is
predicted whole, as a user's image would be (`inference.qf.predict_set`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..archs.qf_net import QFNet
from ..data.samplers import QFSampler
from ..inference.qf import calibration_qualities, judged, predict_set, set_probabilities
from ..inference.releases import predictor_release
from ..metrics.classification import (
    accuracies,
    confusion_matrix,
    expected_calibration_error,
    fit_temperature,
    reliability,
    tempered,
)
from ..runtime import autocast
from .run import Recipe as BaseRecipe


class Recipe(BaseRecipe):
    """The QF predictor, trained on patches of every QF of the train split."""

    def __init__(self, run, device, ddp):
        super().__init__(run, device, ddp)
        s = run.settings
        jpeg = run.name == "qf"  # the CRF predictor learns frames prepared for it (CRFs
        # between its classes, varied x264 settings: `data.video.predictor_data`)
        # the QF predictor's classes may be finer than the ensemble's QFs, and it learns the
        # QFs between them too; the class "above" (JPEG at higher QFs, or never compressed)
        classes = tuple(s.classes or run.qualities) if jpeg else run.qualities
        above = s.above_range if jpeg else None
        self.sampler = QFSampler(
            run.prepared_dir, classes, s.patch_size, run.seed, above_range=above, between=jpeg
        )
        self.between = jpeg
        self.net = QFNet(classes, s.channels, above=above is not None).to(device)
        if device.type == "cuda":
            self.net = self.net.to(memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=s.lr)
        self.modules, self.optimizers = {"g": self.net}, {"g": optimizer}
        self.schedulers = {"g": torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, s.steps)}
        self.model = ddp.wrap(self.net)

    def inputs(self) -> dict[str, str]:
        return {"data": self.sampler.fingerprint(self.run.root)}

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        patches, labels = self.sampler.batch(
            step, self.run.settings.batch_size, self.ddp.rank, self.ddp.world
        )
        labels = labels.to(self.device)
        with autocast(self.device):
            logits = self.model(patches.to(self.device)).float()
        loss = F.cross_entropy(logits, labels)
        optimizer = self.optimizers["g"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        self.schedulers["g"].step()
        hits = (logits.argmax(1) == labels).float().mean()
        return {"loss": loss.detach(), "patch_accuracy": hits.detach()}

    def validate(self, step: int) -> dict[str, float]:
        """Accuracy per image on the validation split (mean over the classes, and right or a
        neighbouring class), at the classes' QFs and between them. At the last step the
        confidence is calibrated there too (`calibrate`)."""
        self.net.eval()
        folder = self.run.prepared_dir / "sets" / "val"
        count = self.run.settings.predict_patches
        found = predict_set(self.net, folder, count, self.device, False, self.between)
        scores = accuracies(confusion_matrix(*found, self.net.labels))
        scores = {k: scores[k] for k in ("accuracy", "near_accuracy", "mean_class_accuracy")}
        if step == self.run.steps:
            scores |= self.calibrate(folder, count)
        self.net.train()
        return scores

    def calibrate(self, folder, count: int) -> dict[str, float]:
        """Fit the temperature of the image-level answer on the validation split, whole
        images and their quarters (JPEG: every other QF, `inference.qf.calibration_qualities`;
        H.264: the prepared frames of each class) and keep it in the network (and so in its
        release); its ECE before and after."""
        self.net.temperature = 1.0
        qualities = calibration_qualities(self.net) if self.between else list(self.net.classes)
        probabilities, targets, _ = set_probabilities(
            self.net, folder, count, self.device, False, qualities, True
        )
        index = np.array([self.net.labels.index(t) for t in targets])
        before = expected_calibration_error(reliability(*judged(self.net, probabilities, targets)))
        self.net.temperature = fit_temperature(probabilities, index)
        calibrated = tempered(probabilities, self.net.temperature)
        after = expected_calibration_error(reliability(*judged(self.net, calibrated, targets)))
        return {"temperature": self.net.temperature, "ece_before": before, "ece": after}

    def state(self) -> dict:
        return {"temperature": self.net.temperature}

    def load_state(self, state: dict) -> None:
        self.net.temperature = float(state.get("temperature", 1.0))

    def release(self) -> dict:
        return predictor_release(self.net)
