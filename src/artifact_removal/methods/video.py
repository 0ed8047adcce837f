"""The same generators on H.264 video frames (Galteri et al., 2020): trained for each CRF of
degradation.h264.crfs on the frames of the video stage's clips, by the stage `video`."""

from __future__ import annotations

from .gan import TrainGanParams, check_gan
from .registry import Method, register
from .ssim import TrainSsimParams, check_supervised

register(
    Method(
        name="video_ssim",
        label="generator on H.264 frames (Galteri et al. 2020)",
        section="train_video_ssim",
        params=TrainSsimParams,
        trainer="supervised",
        combine="blend",
        order=30,
        check=check_supervised("train_video_ssim"),
        summary="trained on H.264 frames, per CRF",
        default_for="video",
        qualities_key="degradation.h264.crfs",
        stage="video",
        prepared_key="video.prepared_dir",
        codec="h264",
    )
)

register(
    Method(
        name="video_gan",
        label="GAN on H.264 frames (Galteri et al. 2020)",
        section="train_video_gan",
        params=TrainGanParams,
        trainer="gan",
        combine="nearest",
        order=40,
        starts_from="video_ssim",
        backbones=("vgg19",),
        check=check_gan("train_video_gan"),
        summary="the GAN trained on H.264 frames, per CRF",
        qualities_key="degradation.h264.crfs",
        stage="video",
        prepared_key="video.prepared_dir",
        codec="h264",
        perceptual=True,
    )
)
