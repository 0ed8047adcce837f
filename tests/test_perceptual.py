"""The perceptual loss: VGG-19 from torchvision's cache only, a clear error, a named fallback."""

from __future__ import annotations

import pytest
import torch
import torchvision

from artifact_removal.losses.perceptual import (
    VGG19_FILE,
    MissingWeightsError,
    PerceptualLoss,
    vgg19_features,
    vgg19_layers,
)


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: pytest.fail("downloading"))
    return tmp_path


def test_layer_names():
    layers = vgg19_layers()
    assert layers["conv1_1"] == 0 and layers["relu2_2"] == 8 and layers["pool2"] == 9
    assert layers["conv5_4"] == 34 and layers["relu5_4"] == 35 and layers["pool5"] == 36


def test_missing_weights_name_the_file_and_folder(empty_torch_home):
    with pytest.raises(MissingWeightsError) as err:
        PerceptualLoss("relu5_4")
    message = str(err.value)
    assert VGG19_FILE in message and str(empty_torch_home / "hub" / "checkpoints") in message
    assert "random_vgg19" in message and "artifact-removal pretrained" in message
    with pytest.raises(ValueError, match="unknown VGG-19 layer"):
        vgg19_features("relu6_1", None, "random_vgg19")
    with pytest.raises(ValueError, match="unknown fallback"):
        vgg19_features("relu5_4", None, "alexnet")


def test_the_fallback_is_named_and_seeded(empty_torch_home):
    loss = PerceptualLoss("relu2_2", fallback="random_vgg19", seed=3)
    assert loss.name == "random_vgg19_relu2_2"
    again = PerceptualLoss("relu2_2", fallback="random_vgg19", seed=3)
    first = next(loss.features.parameters())
    assert torch.equal(first, next(again.features.parameters()))
    assert not first.requires_grad


def test_cached_weights_are_loaded_without_downloading(empty_torch_home):
    stand_in = torchvision.models.vgg19().state_dict()  # random, standing in for the real file
    (empty_torch_home / "hub" / "checkpoints").mkdir(parents=True)
    path = empty_torch_home / "hub" / "checkpoints" / VGG19_FILE
    torch.save(stand_in, path)
    features, name = vgg19_features("conv1_2", path, fallback=None)
    assert name == "vgg19_conv1_2" and len(features) == 3
    assert torch.equal(features[0].weight, stand_in["features.0.weight"])


def test_loss_is_zero_for_equal_images_and_grows_with_difference(empty_torch_home):
    torch.manual_seed(0)
    loss = PerceptualLoss("relu2_2", fallback="random_vgg19")
    x = torch.rand(2, 3, 32, 32)
    assert loss(x, x) == 0
    near, far = (x + 0.02 * torch.randn_like(x)).clamp(0, 1), torch.rand_like(x)
    assert 0 < loss(near, x) < loss(far, x)
    pred = x.clone().requires_grad_(True)
    loss(pred, torch.rand_like(x)).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_config_knows_the_same_layer_names():
    from artifact_removal.methods.gan import VGG19_LAYERS

    assert tuple(vgg19_layers()) == VGG19_LAYERS
