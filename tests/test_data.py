"""Data preparation: scanning, the split, bad files, the prepared layout, the patch index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from artifact_removal.config import load_params
from artifact_removal.data.images import write_png
from artifact_removal.data.prepare import (
    Candidate,
    colour_variants,
    patch_index,
    prepare_corpus,
    prepare_extra_set,
    prepare_set,
    scan_folder,
    split_candidates,
)
from artifact_removal.data.prepared import DataError, evaluation_folders, set_folder
from artifact_removal.stages.prepare import (
    prepare_metrics,
    training_additions,
    write_prepare_reports,
)

from .test_images import png_16bit_rgb


def _candidates(n: int) -> list[Candidate]:
    return [Candidate(Path(f"{i:03d}.png"), f"{i:03d}") for i in range(n)]


def test_split_is_deterministic_disjoint_and_complete():
    cands = _candidates(13)
    first = split_candidates(cands, 0.15, 0.15, seed=2017)
    again = split_candidates(list(reversed(cands)), 0.15, 0.15, seed=2017)
    assert first == again
    assert {k: len(v) for k, v in first.items()} == {"train": 9, "val": 2, "test": 2}
    keys = [c.key for part in first.values() for c in part]
    assert sorted(keys) == sorted(c.key for c in cands)
    assert split_candidates(cands, 0.15, 0.15, seed=1) != first


@pytest.mark.parametrize(("n", "expected"), [(1, (1, 0, 0)), (3, (1, 1, 1)), (100, (70, 15, 15))])
def test_split_sizes(n, expected):
    split = split_candidates(_candidates(n), 0.15, 0.15, seed=0)
    assert (len(split["train"]), len(split["val"]), len(split["test"])) == expected


def test_split_is_stratified_by_colour():
    cands = [Candidate(Path(f"c{i}.png"), f"c{i}", "colour") for i in range(7)] + [
        Candidate(Path(f"g{i}.png"), f"g{i}", "gray") for i in range(6)
    ]
    split = split_candidates(cands, 0.15, 0.15, seed=3)
    for name in ("val", "test"):
        assert sorted(c.stratum for c in split[name]) == ["colour", "gray"]
    assert len(split["train"]) == 9


def test_scan_reads_the_colour_kind_from_headers(tmp_path, photo, gray_photo):
    write_png(photo, tmp_path / "c.png")
    write_png(gray_photo, tmp_path / "g.png")
    (tmp_path / "x.png").write_text("no")
    cands, _ = scan_folder(tmp_path, "corpus")
    assert [c.stratum for c in cands] == ["colour", "gray", "unreadable"]


def test_zero_fraction_gives_an_empty_split():
    split = split_candidates(_candidates(10), 0.0, 0.2, seed=0)
    assert split["val"] == [] and len(split["test"]) == 2


def test_scan_folder_errors_and_skips(tmp_path, photo):
    with pytest.raises(DataError, match="folder not found"):
        scan_folder(tmp_path / "missing", "corpus")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="folder is empty"):
        scan_folder(tmp_path / "empty", "corpus")
    write_png(photo, tmp_path / "set/a.png")
    write_png(photo, tmp_path / "set/sub/a.png")
    Image.fromarray(photo).save(tmp_path / "set/a.jpg")
    (tmp_path / "set/.DS_Store").write_bytes(b"\0")
    cands, skipped = scan_folder(tmp_path / "set", "corpus")
    assert [c.key for c in cands] == ["a", "sub__a"]
    reasons = {Path(r.file).name: r.detail for r in skipped}
    assert reasons == {
        ".DS_Store": "hidden file",
        "a.png": "same name as a.jpg (outputs would clash)",
    }


@pytest.fixture
def messy_folder(tmp_path, photo, gray_photo) -> Path:
    """One file for every kind of input the corpus may hold."""
    folder = tmp_path / "raw"
    write_png(photo, folder / "good.png")
    write_png(gray_photo, folder / "gray.png")
    Image.fromarray(np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)])).save(
        folder / "rgba.png"
    )
    (folder / "rgb16.png").write_bytes(png_16bit_rgb(photo.astype(np.uint16) * 257))
    Image.fromarray(photo).convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.fromarray(photo).save(folder / "rotated.jpg", exif=exif, quality=95)
    write_png(photo[:100, :200], folder / "small.png")
    (folder / "notes.txt").write_text("not an image")
    Image.fromarray(photo).save(folder / "truncated.png")
    data = (folder / "truncated.png").read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 3])
    return folder


def test_every_bad_input_is_reported(messy_folder, tmp_path):
    cands, _ = scan_folder(messy_folder, "train")
    records, rows = prepare_set("train", cands, tmp_path / "out", [10, 40], min_size=128)
    out = tmp_path / "out"
    report = {Path(r.file).name: (r.status, r.detail) for r in records}
    assert report["good.png"] == ("used", "")
    assert report["gray.png"] == ("converted", "grayscale converted to RGB")
    assert report["rgba.png"] == ("converted", "alpha channel flattened onto white")
    assert report["rgb16.png"] == ("converted", "16-bit samples reduced to 8-bit")
    assert report["cmyk.jpg"] == ("converted", "CMYK converted to RGB")
    assert report["rotated.jpg"] == ("converted", "rotated by EXIF orientation 8")
    assert report["small.png"] == ("skipped", "200x100 is smaller than the 128x128 training patch")
    assert report["notes.txt"][0] == "skipped" and "not an image" in report["notes.txt"][1]
    assert report["truncated.png"][0] == "skipped" and "truncated" in report["truncated.png"][1]
    used = {r["key"] for r in rows}
    assert used == {"good", "gray", "rgba", "rgb16", "cmyk", "rotated"}
    assert (out / "gt/rotated.png").is_file()
    with Image.open(out / "gt/rotated.png") as im:
        assert im.size == (192, 256)  # rotated: width and height swapped
    assert (out / "q40/cmyk.jpg").is_file()


def test_patch_index_known_answer():
    sizes = pd.DataFrame({"key": ["a", "b"], "height": [200, 100], "width": [300, 300]})
    index = patch_index(sizes, 128, 64)
    assert list(index.itertuples(index=False, name=None)) == [
        ("a", 0, 0),
        ("a", 0, 64),
        ("a", 0, 128),
        ("a", 64, 0),
        ("a", 64, 64),
        ("a", 64, 128),
    ]


def _tiny_project(project: Path, photo, gray_photo, extra: dict | None = None) -> Path:
    raw = project / "data/raw"
    rng = np.random.default_rng(0)
    for i in range(5):
        write_png(np.roll(photo, 17 * i, axis=1), raw / f"img{i}.png")
    write_png(gray_photo, raw / "gray.png")
    (raw / "broken.jpg").write_bytes(b"\xff\xd8\xff" + rng.bytes(100))
    (raw / ".DS_Store").write_bytes(b"\0")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["degradation"]["qualities"] = [10, 40]
    for section in params.values():  # every list of QFs that names 20 (NoGAN's, the study's)
        if isinstance(section, dict) and section.get("qualities") == [20]:
            section["qualities"] = [10]
    params["evaluate"] |= {"figure_quality": 10, "set_qualities": []}
    params["data"] |= {"corpus": "embedded", "dead_leaves": 2, "colour_variants": 5,
                       "extra_sets": extra or {}}  # fmt: skip
    (project / "params.yaml").write_text(
        yaml.safe_dump(params, sort_keys=False, default_flow_style=None)
    )
    return raw


def test_prepare_corpus_writes_the_layout(project, photo, gray_photo):
    extra = project / "bench"
    write_png(gray_photo, extra / "lena.png")
    write_png(photo, extra / "parrots.png")
    _tiny_project(project, photo, gray_photo, {"bench": str(extra)})
    params = load_params(project / "params.yaml")
    prepared = prepare_corpus(params, project)
    out = project / "data/prepared"
    originals = {
        k: [key for key in v if "~" not in key and not key.startswith("dead_leaves")]
        for k, v in prepared.splits.items()
    }
    counts = {k: len(v) for k, v in originals.items()}
    assert counts == {"train": 4, "val": 1, "test": 1}  # broken.jpg skipped; no extra set here
    assert not (out / "sets/bench").exists() and not (project / "data/sets/bench").exists()
    # five colour variants of each colour training image, none of the gray one or elsewhere
    variants = {k: [key for key in v if "~" in key] for k, v in prepared.splits.items()}
    colour_train = [key for key in originals["train"] if key != "gray"]
    assert len(variants["train"]) == 5 * (len(colour_train) + 2)  # and of the 2 dead leaves
    assert not any(variants[k] for k in variants if k != "train")
    key = colour_train[0]
    gt = np.asarray(Image.open(out / f"sets/train/gt/{key}.png"))
    variant = np.asarray(Image.open(out / f"sets/train/gt/{key}~brg.png"))
    assert np.array_equal(variant, gt[..., [2, 0, 1]])
    for set_name, keys in prepared.splits.items():
        for key in keys:
            assert (out / f"sets/{set_name}/gt/{key}.png").is_file()
            assert (out / f"sets/{set_name}/q10/{key}.jpg").is_file()
    index = pd.read_csv(out / "patches/train_128.csv")
    assert len(index) > 0 and (index[["y", "x"]] % 16 == 0).all().all()
    sizes = prepared.images.drop_duplicates(["set", "key"]).set_index("key")
    assert ((index["y"] + 128).to_numpy() <= sizes.loc[index["key"], "height"].to_numpy()).all()
    report = pd.read_csv(out / "report.csv").fillna("")
    assert (
        report.set_index(report["file"].map(lambda f: Path(f).name)).loc["broken.jpg", "status"]
        == "skipped"
    )
    generated = report[report["status"] == "generated"]
    assert list(generated["file"]) == ["dead_leaves_000 (synthetic)", "dead_leaves_001 (synthetic)"]
    assert {"dead_leaves_000", "dead_leaves_001"} <= set(prepared.splits["train"])
    assert not any(k.startswith("dead_leaves") for s in ("val", "test") for k in originals[s])
    written = json.loads((out / "params.json").read_text())
    assert written["degradation"]["qualities"] == [10, 40]
    assert "extra_sets" not in written["data"]  # not a parameter of this stage

    metrics = prepare_metrics(prepared)
    assert metrics["corpus"] == {"used": 5, "converted": 1, "skipped": 2}  # broken, hidden
    assert set(metrics["jpeg"]) == {"q10", "q40"} and set(metrics["jpeg"]["q10"]) == {"test"}
    q10, q40 = metrics["jpeg"]["q10"]["test"], metrics["jpeg"]["q40"]["test"]
    assert q10["bpp"] < q40["bpp"] and q10["psnr_rgb"] < q40["psnr_rgb"]
    assert 0 < q10["ssim_y"] < q40["ssim_y"] < 1

    additions = training_additions(prepared)
    assert [ax.get_title() for ax in additions.axes][-2:] == ["dead_leaves_000", "dead_leaves_001"]
    assert " ~" in additions.axes[1].get_title()  # a colour variant of the photograph before it

    outputs = write_prepare_reports(prepared, params, project)
    assert json.loads((project / "metrics/prepare.json").read_text())["corpus"]["used"] == 5
    assert json.loads((project / "metrics/jpeg/q40.json").read_text())["test"] == q40
    assert (project / "reports/figures/qf_ladder.png").is_file()
    assert "| set" in (project / "reports/jpeg_baseline.md").read_text()
    assert outputs["metrics"] == metrics

    bench = prepare_extra_set(params, "bench", project)
    assert bench.out_dir == project / "data/sets/bench" == set_folder(params, project, "bench")
    assert bench.splits == {"bench": ["lena", "parrots"]}
    with Image.open(bench.out_dir / "gt/lena.png") as im:
        assert im.mode == "L"  # gray benchmark images stay gray
    with Image.open(bench.out_dir / "q10/lena.jpg") as im:
        assert im.mode == "L"
    assert sorted(p.name for p in bench.out_dir.iterdir()) == [
        "gt", "images.csv", "params.json", "q10", "q40", "report.csv", "splits.json"]  # fmt: skip
    assert evaluation_folders(params, project) == {
        "test": out / "sets/test",
        "bench": bench.out_dir,
    }
    assert prepare_corpus(params, project).images.equals(prepared.images)  # untouched by it


def test_colour_variants_reorder_the_planes(photo, gray_photo):
    variants = colour_variants(photo, 5)
    assert [order for order, _ in variants] == ["gbr", "brg", "rbg", "bgr", "grb"]
    for order, pixels in variants:
        assert np.array_equal(pixels, photo[..., ["rgb".index(c) for c in order]])
    assert [order for order, _ in colour_variants(photo, 2)] == ["gbr", "brg"]
    assert colour_variants(photo, 0) == []
    assert colour_variants(gray_photo, 5) == []  # (H, W)
    assert colour_variants(np.repeat(gray_photo[..., None], 3, axis=2), 5) == []  # R = G = B


def test_colour_variants_can_be_turned_off(project, photo, gray_photo):
    _tiny_project(project, photo, gray_photo)
    text = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(text.replace("colour_variants: 5", "colour_variants: 0"))
    prepared = prepare_corpus(load_params(project / "params.yaml"), project)
    assert not any("~" in key for keys in prepared.splits.values() for key in keys)


def test_rerun_leaves_no_stale_outputs(project, photo, gray_photo):
    _tiny_project(project, photo, gray_photo)
    prepare_corpus(load_params(project / "params.yaml"), project)
    text = (project / "params.yaml").read_text().replace("[10, 40]", "[20]")
    text = text.replace("qualities: [10]", "qualities: [20]")  # NoGAN's, the study's
    (project / "params.yaml").write_text(text.replace("quality: 10", "quality: 20"))
    prepare_corpus(load_params(project / "params.yaml"), project)
    folders = {p.name for p in (project / "data/prepared/sets/train").iterdir()}
    assert folders == {"gt", "q20"}


def test_corpus_without_usable_images_stops(project, photo):
    raw = project / "data/raw"
    write_png(photo[:50, :50], raw / "tiny.png")
    (raw / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="no usable image") as err:
        prepare_corpus(load_params(project / "params.yaml"), project)
    assert "tiny.png: 50x50 is smaller" in str(err.value)
    assert "notes.txt: not an image" in str(err.value)


def test_empty_corpus_folder_stops(project):
    (project / "data/raw").mkdir(parents=True)
    with pytest.raises(DataError, match="raw: folder is empty"):
        prepare_corpus(load_params(project / "params.yaml"), project)


def test_missing_extra_set_is_named(project, photo, gray_photo):
    _tiny_project(project, photo, gray_photo, {"live1": str(project / "nowhere")})
    params = load_params(project / "params.yaml")
    with pytest.raises(DataError, match="nowhere: folder not found \\(set 'live1'\\)"):
        prepare_extra_set(params, "live1", project)
    with pytest.raises(DataError, match="has no set 'live2'"):
        prepare_extra_set(params, "live2", project)


def test_a_spread_takes_the_first_and_the_last_and_never_repeats():
    from artifact_removal.data.prepared import spread

    names = [f"img{i:02d}" for i in range(68)]
    taken = spread(names, 17)
    assert len(taken) == len(set(taken)) == 17 and taken[0] == "img00" and taken[-1] == "img67"
    assert taken == sorted(taken)
    assert spread(names, 0) == names and spread(names, 99) == names
    assert spread(names, 1) == ["img00"]
