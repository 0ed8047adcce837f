"""NoGAN's LPIPS + L1 loss: weights from a file, the named fallback, a clear error without."""

from __future__ import annotations

import pytest
import torch
import torchvision

from artifact_removal.losses.lpips_loss import LpipsLoss, lpips_network
from artifact_removal.pretrained import MissingWeightsError


@pytest.mark.parametrize("backbone, build", [("alex", torchvision.models.alexnet),
                                             ("vgg", torchvision.models.vgg16)])  # fmt: skip
def test_the_backbone_comes_from_the_given_file(tmp_path, backbone, build):
    torch.manual_seed(1)
    imagenet = build().state_dict()  # stands in for torchvision's ImageNet file
    torch.save(imagenet, tmp_path / "backbone.pth")
    model, name = lpips_network(backbone, tmp_path / "backbone.pth")
    assert name == f"lpips_{backbone}"
    first = next(k for k in model.net.state_dict() if k.endswith("weight"))
    assert torch.equal(
        model.net.state_dict()[first], imagenet[f"features.{first.split('.', 1)[1]}"]
    )
    assert not any(p.requires_grad for p in model.parameters())


def test_without_weights_an_error_names_the_file_unless_the_fallback_is_chosen():
    with pytest.raises(MissingWeightsError, match=r"vgg16-397923af\.pth"):
        lpips_network("vgg", None)
    a, name = lpips_network("alex", None, "random_alex", seed=3)
    b, _ = lpips_network("alex", None, "random_alex", seed=3)
    assert name == "random_alex_lpips"
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(),
                                                 strict=True))  # fmt: skip


def test_the_loss_is_zero_on_equal_images_and_grows_with_distortion():
    loss = LpipsLoss("alex", fallback="random_alex")
    torch.manual_seed(0)
    gt = torch.rand(2, 3, 64, 64) * 2 - 1
    same = loss(gt, gt)
    assert same["loss"].abs() < 1e-6
    small, large = (loss((gt + s * torch.randn_like(gt)).clamp(-1, 1), gt) for s in (0.05, 0.3))
    assert 0 < small["loss"] < large["loss"] and large["l1"] > small["l1"]
    pred = gt.clone().requires_grad_(True)
    loss(pred + 0.1, gt)["loss"].backward()
    assert pred.grad.abs().sum() > 0
