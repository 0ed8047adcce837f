"""Inference, which never imports training: one module per job.

    releases     loading release files
    restore      restoring one image or a batch of frames with PyTorch generators
    tiles        any restorer over overlapping tiles (numpy only)
    qf           the QF predictor at work (`qf_answer`: its patches and answer, no torch)
    choice       what restores an image: its quality, the generators and their weights
    ensemble     the per-QF generators, chosen or blended by the input's quality
    strength     the perception-distortion dial: a generator between two methods
    export       ONNX export of a method; `onnx_backend` restores from it without torch
    ladder       the measured ladder: which generator (or none) each quality gets
    crf_reading  a video's CRF from its H.264 QPs
    png          PNGs that record their input and settings (`image_files`: PNG, JPEG, WebP)
    video        restoring a whole video (`video_probe`: what a video file holds;
                 `video_mux`: writing one from packets)
    options      restore's options (`RestoreOptions`, `VideoOutput`): defaults and help
    files        the `restore` command's run, with its parts:
                 `inputs` (the files to restore, checked), `setups` (what restores them),
                 `outputs` (names, and outputs that exist already), `one_file` (one image or
                 video), `overlap` (its steps in threads beside the network), `on_ray` (its
                 inputs as tasks on a Ray cluster) and `report` (what became of each input)
    gallery      prepared images and their restorations

A module here imports from this package and the layers below it, never from training or the
stages (tests/test_architecture.py checks it).
"""
