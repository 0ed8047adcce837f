"""The model-level restorer, which never imports training: a method's generators and
predictors restoring pixels. One module per job:

    releases       loading release files
    torch_backend  restoring one image or a batch of frames with PyTorch generators
    onnx_backend   the same from an ONNX export (`export`), without torch
    tiles          any restorer over overlapping tiles (numpy only)
    qf             the QF predictor at work (`qf_answer`: its patches and answer, no torch)
    crf_reading    a video's CRF from its H.264 QPs, through the fitted line
    choice         what restores an image: its quality, the generators and their weights
    ensemble       the per-QF generators, chosen or blended by the input's quality
    ladder         the measured ladder, read: which generator (or none) each quality gets
    strength       the perception-distortion dial: a generator between two methods
    setups         what restores each kind of input (images, videos) for a method and codec
    gallery        prepared images and their restorations, for the stages and widgets

The `restore` command, the application on top of this, is the package `restore`; measuring
the ladder and fitting the CRF reading are the stages' (`stages.ladder`, `stages.crf_reading`).
A module here imports from this package and the layers below it, never from training, the
stages or `restore` (tests/test_architecture.py checks it).
"""
