"""The command line: clear errors, same work as the notebooks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from artifact_removal.cli import main

from .conftest import REPO


def test_bad_params_exit_with_a_message_naming_the_key(project, capsys):
    text = (project / "params.yaml").read_text().replace("seed: 2017", "seed: 2017\nsede: 1")
    (project / "params.yaml").write_text(text)
    assert main(["prepare", "--params", str(project / "params.yaml")]) == 2
    err = capsys.readouterr().err
    assert "sede: unknown key" in err and "params.yaml" in err


def test_profile_command(project, capsys):
    assert (
        main(
            ["profile", str(REPO / "profiles/tiny.yaml"), "--params", str(project / "params.yaml")]
        )
        == 0
    )
    assert "degradation.qualities" in capsys.readouterr().out


def test_module_entry_point_shows_help():
    done = subprocess.run(
        [sys.executable, "-m", "artifact_removal", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    commands = "corpus prepare prepare-set pretrained train train-qf methods restore evaluate"
    commands += " fetch-models notebook strip-notebooks profile"
    for command in commands.split():
        assert command in done.stdout


def test_help_imports_neither_torch_nor_the_notebook_tools():
    """`--help` answers at once: torch and nbformat load only for commands that need them."""
    code = ("import sys\nfrom artifact_removal.cli import main\n"
            "for argv in (['--help'], ['restore', '--help'], ['train', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "heavy = ('torch', 'nbformat', 'papermill')\n"
            "print(sorted(m for m in heavy if m in sys.modules))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_cli_and_restore_share_the_pixel_budget():
    from artifact_removal import cli
    from artifact_removal.restore.options import MAX_MEGAPIXELS, RestoreOptions

    parsed = cli.build_parser().parse_args(["restore", "in.jpg", "-o", "out"])
    assert parsed.max_megapixels == RestoreOptions().max_megapixels == MAX_MEGAPIXELS
    assert cli.MAX_MEGAPIXELS == MAX_MEGAPIXELS


def test_prepare_command_on_a_small_project(project, photo, capsys):
    from artifact_removal.data.images import write_png

    for i in range(4):
        write_png(photo[:, 16 * i :], project / f"data/raw/p{i}.png")
    (project / "data/raw/readme.txt").write_text("not an image")
    assert (
        main(
            ["profile", str(REPO / "profiles/tiny.yaml"), "--params", str(project / "params.yaml")]
        )
        == 0
    )
    assert main(["prepare", "--params", str(project / "params.yaml")]) == 0
    out = capsys.readouterr().out
    assert "skipped: " in out and "readme.txt" in out
    assert (project / "metrics/prepare.json").is_file()


def test_evaluate_without_trained_generators_says_how_to_train(project, photo, capsys):
    from artifact_removal.data.images import write_png

    for i in range(4):
        write_png(photo[:, 16 * i :], project / f"data/raw/p{i}.png")
    params = str(project / "params.yaml")
    assert main(["profile", str(REPO / "profiles/tiny.yaml"), "--params", params]) == 0
    assert main(["prepare", "--params", params]) == 0
    assert main(["evaluate", "--params", params]) == 2
    err = capsys.readouterr().err
    assert "models/ssim/q20.pt" in err and "dvc repro train_ssim@20" in err


def test_methods_lists_the_registry(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("method: ssim,") and "ensemble: blend" in out[0]
    assert out[1].startswith("method: gan,") and "ensemble: nearest" in out[1]
    assert "starts from: ssim" in out[1] and "backbones: ['vgg19']" in out[1]
    defaults = [line.split(",")[0] for line in out if "default: restore's method" in line]
    assert defaults == ["method: gan", "method: video_ssim"]  # the images', the videos'
    assert out[1].endswith("default: restore's method for images")


def test_pretrained_records_what_the_cache_holds(project, tmp_path, monkeypatch, capsys):
    from artifact_removal.pretrained import BACKBONES, MANIFEST, read_manifest

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.chdir(project)
    assert main(["pretrained"]) == 0
    assert read_manifest(project) == dict.fromkeys(BACKBONES, "absent")
    assert "vgg19-dcbb9e9d.pth not in" in capsys.readouterr().out
    before = (project / MANIFEST).stat().st_mtime_ns
    assert main(["pretrained"]) == 0 and (project / MANIFEST).stat().st_mtime_ns == before


def test_every_option_has_help_and_states_its_default():
    import argparse

    from artifact_removal.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        text = sub.format_help()
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.dest}: no help"
            if action.option_strings and action.default not in (None, False):
                assert f"default: {action.default}" in " ".join(text.split()), (name, action.dest)


def test_fetch_models_lists_every_imagenet_file_offline(tmp_path):
    """`--list` never goes online: each backbone's file, the hash prefix that torchvision
    checks, and whether the cache holds it; the folder it looks in."""
    from artifact_removal.pretrained import BACKBONES

    env = dict(os.environ, TORCH_HOME=str(tmp_path / "torch"))
    done = subprocess.run([sys.executable, "-m", "artifact_removal", "fetch-models", "--list"],
                          capture_output=True, text=True, check=True, env=env,
                          cwd=tmp_path)  # fmt: skip
    assert str(tmp_path / "torch/hub/checkpoints") in done.stdout
    for name, file in BACKBONES.items():
        prefix = file.rsplit("-", 1)[-1].split(".")[0]
        assert any(name in line and file in line and f"sha256 {prefix}" in line
                   and line.endswith("absent") for line in done.stdout.splitlines())  # fmt: skip
    assert {"mobilenet_v3_large", "mobilenet_v3_small", "resnet34", "vgg16"} <= set(BACKBONES)


def test_restore_options_are_the_parser_and_the_function_defaults_alike():
    """`restore`'s arguments are made from RestoreOptions: no flag means its default, each
    flag lands in its field (the video encoding's in `video`), and restore_files takes the
    same object."""
    import dataclasses
    import inspect

    from artifact_removal.cli.options import options_from
    from artifact_removal.cli.parser import build_parser
    from artifact_removal.restore.options import RestoreOptions, VideoOutput
    from artifact_removal.restore.run import restore_files

    def parsed(*flags):
        return options_from(
            build_parser().parse_args(["restore", "a.jpg", "-o", "out", *flags]), RestoreOptions
        )

    assert parsed() == RestoreOptions()
    given = parsed(
        "--method",
        "ssim",
        "--quality",
        "20",
        "--models",
        "m",
        "--tile",
        "256",
        "--bits",
        "16",
        "--skip-existing",
        "--restore-uncompressed",
        "--max-megapixels",
        "2.5",
        "--video-codec",
        "ffv1",
        "--crf",
        "0",
        "--chroma",
        "420",
        "--preset",
        "fast",
        "--segment-frames",
        "9",
        "--batch",
        "2",
    )
    assert given == dataclasses.replace(
        RestoreOptions(),
        method="ssim",
        quality="20",
        models_dir="m",
        tile=256,
        bits=16,
        skip_existing=True,
        restore_uncompressed=True,
        max_megapixels=2.5,
        segment_frames=9,
        batch=2,
        video=VideoOutput("ffv1", 0, "fast", "420"),
    )
    assert list(inspect.signature(restore_files).parameters)[:3] == ["inputs", "out_dir", "options"]
    with pytest.raises(SystemExit):  # the two ways with existing outputs exclude each other
        parsed("--overwrite", "--skip-existing")
