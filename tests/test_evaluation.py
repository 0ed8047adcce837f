"""The evaluation: scores per image, summaries, tables, metrics files, errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

from artifact_removal.archs.generator import build_generator, generator_args
from artifact_removal.checkpoints import save_atomic
from artifact_removal.config import ConfigError, load_params
from artifact_removal.data.images import write_png
from artifact_removal.data.prepared import DataError
from artifact_removal.degradations.jpeg import jpeg_compress
from artifact_removal.inference.gallery import Gallery, MissingRelease
from artifact_removal.metrics.lpips import Lpips
from artifact_removal.stages.evaluate import (
    evaluate,
    published_rows,
    summarize,
    table_markdown,
    write_evaluation,
)

CPU = torch.device("cpu")


@pytest.fixture
def prepared(tmp_path, photo, gray_photo):
    """Prepared sets: `test` with a colour and a gray image at QF 10 and 40."""
    sets = tmp_path / "prepared" / "sets" / "test"
    for key, image in (("astro", photo), ("camera", gray_photo)):
        write_png(image, sets / "gt" / f"{key}.png")
        for quality in (10, 40):
            (sets / f"q{quality}").mkdir(parents=True, exist_ok=True)
            (sets / f"q{quality}" / f"{key}.jpg").write_bytes(jpeg_compress(image, quality).data)
    return {"test": sets}


@pytest.fixture
def models(tmp_path):
    """Release files of a tiny (untrained) generator for QF 10 and 40."""
    torch.manual_seed(0)
    net = build_generator("tiny")
    for quality in (10, 40):
        release = {"model": net.state_dict(), "arch": "generator",
                   "model_args": generator_args(net), "quality": quality}  # fmt: skip
        save_atomic(release, tmp_path / "models" / f"q{quality}.pt")
    return tmp_path / "models"


def test_every_image_at_every_quality_for_every_method(prepared, models):
    gallery = Gallery(prepared, {"ssim": models}, CPU)
    result = evaluate(gallery, ("test",), (10, 40), lpips=Lpips(reason="no weights here"))
    rows = result.per_image
    assert len(rows) == 2 * (1 + 2 * 2)  # per image: original, then (jpeg, ssim) at 2 QFs
    original = rows[rows["method"] == "original"]
    assert original[["psnr_y", "ssim_y"]].isna().all().all()
    assert original["niqe"].notna().all() and original["brisque"].notna().all()
    jpeg = rows[(rows["method"] == "jpeg") & (rows["key"] == "astro")].set_index("quality")
    assert jpeg.loc[40, "psnr_y"] > jpeg.loc[10, "psnr_y"]
    assert jpeg.loc[40, "psnrb_y"] <= jpeg.loc[40, "psnr_y"]
    assert "lpips" not in rows and result.lpips_note == "no weights here"

    summary = summarize(rows)
    assert list(summary["method"][:3]) == ["original", "jpeg", "ssim"]
    assert len(summary) == 2 * 3  # two QFs, three rows each (originals repeated)
    mean = rows.query("method == 'jpeg' and quality == 10")["psnr_rgb"].mean()
    assert summary.query("method == 'jpeg' and quality == 10")["psnr_rgb"].item() == mean


def test_tables_and_metrics_files(prepared, models, tmp_path):
    gallery = Gallery(prepared, {"ssim": models}, CPU)
    result = evaluate(gallery, ("test",), (10, 40), crop_border=4, lpips=None, progress=False)
    write_evaluation(result, tmp_path / "tables", tmp_path / "metrics")
    written = sorted(p.relative_to(tmp_path / "metrics").as_posix()
                     for p in (tmp_path / "metrics").rglob("*.json"))  # fmt: skip
    assert written == [f"test/{q}/{m}.json" for q in ("q10", "q40")
                       for m in ("jpeg", "original", "ssim")]  # fmt: skip
    scores = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "metrics/test/q10").iterdir()}
    assert set(scores) == {"original", "jpeg", "ssim"}
    assert set(scores["original"]) == {"niqe", "brisque"}
    assert {"psnr_rgb", "psnr_y", "gain_y", "ssim_y", "psnrb_y", "niqe", "brisque"} <= set(
        scores["ssim"]
    )
    assert scores["jpeg"]["gain_y"] == 0
    text = (tmp_path / "tables/test_q10.md").read_text()
    assert "Border crop: 4 px" in text and "BT.601" in text and "nan" not in text
    assert (tmp_path / "tables/test_q40.csv").is_file()
    assert (tmp_path / "tables/per_image.csv").read_text().count("\n") == 1 + 10


def test_images_too_small_for_a_metric_get_nan(prepared, models, tmp_path):
    from artifact_removal.stages.evaluate import no_reference_scores

    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    scores = no_reference_scores(noise)
    assert np.isnan(scores["niqe"]) and np.isfinite(scores["brisque"])


def test_the_report_leads_with_its_result(prepared, models):
    """Issue 43: 06's first screen is the result, in a sentence and a short table."""
    from artifact_removal.stages.evaluate import headline, lead_set

    gallery = Gallery(prepared, {"ssim": models}, CPU)
    result = evaluate(gallery, ("test",), (10,), lpips=Lpips(reason="absent"))
    text = headline(result, summarize(result.per_image), "test", 10)
    assert text.startswith("**test") and "2 images at JPEG QF 10.** Closest to the " in text
    assert "**ssim**" in text and "dB PSNR-Y over JPEG (95% interval)" in text
    assert "Most natural: **ssim**, NIQE" in text and "(JPEG " in text
    assert "| method" in text and " ± " in text  # the table, with its intervals
    assert lead_set(("test", "live1_color")) == "live1_color" and lead_set(("test",)) == "test"


def test_strength_labels_that_would_overlap_are_left_out():
    from artifact_removal.stages.strength_curve import labelled

    rows = pd.DataFrame({"strength": [0, 0.25, 0.5, 0.75, 1.0], "niqe": [5.0, 4.99, 4.5, 4.49, 4.0],
                         "psnr_y": [30.0, 29.99, 29.5, 29.49, 29.0]})  # fmt: skip
    assert list(labelled(rows, rows).strength) == [0, 0.5, 1.0]  # 0.25 and 0.75 sit on others


def test_published_rows_are_printed_for_matching_sets(prepared):
    rows = published_rows("classic5", 10)
    assert rows.set_index("method").loc["jpeg", "psnr_y"] == 27.82
    assert published_rows("classic5", 60) is None and published_rows("test", 10) is None


def test_table_names_lpips_when_unavailable(prepared, models):
    gallery = Gallery(prepared, {"ssim": models}, CPU)
    result = evaluate(gallery, ("test",), (10,), lpips=Lpips(reason="put it there"))
    text = table_markdown(result, summarize(result.per_image), "test", 10)
    assert "LPIPS unavailable: put it there" in text
    assert text.startswith("## test (") and ", JPEG QF 10 (2 images)" in text  # what it is


def test_missing_generator_or_images_are_clear_errors(prepared, tmp_path):
    gallery = Gallery(prepared, {"ssim": tmp_path / "nowhere"}, CPU)
    with pytest.raises(MissingRelease, match=r"q10\.pt.*dvc repro train_ssim@10"):
        gallery.image("test", "astro", 10, "ssim")
    with pytest.raises(MissingRelease, match="unknown method 'nogan'"):
        gallery.generator("nogan", 10)
    with pytest.raises(DataError, match="unknown set 'live1'"):
        gallery.keys("live1")
    empty = Gallery({"test": tmp_path / "empty"}, {}, CPU)
    with pytest.raises(DataError, match="no prepared images"):
        empty.keys("test")
    assert gallery.image("test", "astro", 10, "jpeg").shape == (192, 256, 3)


def test_params_of_the_evaluation_are_checked(project):
    text = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(text.replace("figure_quality: 20", "figure_quality: 11"))
    with pytest.raises(ConfigError, match=r"evaluate.figure_quality: 11 is not one"):
        load_params(project / "params.yaml")
    (project / "params.yaml").write_text(
        text.replace("methods: [ssim, gan, nogan_pre, nogan]", "methods: [ssim]")
    )
    with pytest.raises(ConfigError, match=r"compare.right: must be one of"):
        load_params(project / "params.yaml")
    (project / "params.yaml").write_text(text.replace("set: test", "set: live1"))
    with pytest.raises(ConfigError, match=r"compare\.set"):
        load_params(project / "params.yaml")
    (project / "params.yaml").write_text(
        text.replace("methods: [ssim, gan, nogan_pre, nogan]", "methods: [sim]")
    )
    with pytest.raises(ConfigError, match=r"evaluate.methods: unknown method 'sim'"):
        load_params(project / "params.yaml")


def test_lpips_is_a_column_when_the_metric_is_available(prepared, models):
    from artifact_removal.metrics.lpips import lpips_network

    gallery = Gallery(prepared, {"ssim": models}, CPU)
    plumbing = Lpips(lpips_network("alex", None, "random_alex")[0])  # the real weights stand-in
    result = evaluate(gallery, ("test",), (10,), lpips=plumbing, progress=False)
    assert result.lpips_note == ""
    summary = summarize(result.per_image)
    assert summary.query("method == 'jpeg'")["lpips"].item() > 0
    assert "LPIPS unavailable" not in table_markdown(result, summary, "test", 10)


def test_a_gan_trained_with_a_fallback_loss_is_named_in_the_tables(prepared, models, tmp_path):
    release = torch.load(models / "q10.pt", weights_only=True)
    for quality in (10, 40):
        save_atomic(release | {"method": "gan", "loss": "random_vgg19_relu2_2"},
                    tmp_path / "gan" / f"q{quality}.pt")  # fmt: skip
    gallery = Gallery(prepared, {"ssim": models, "gan": tmp_path / "gan"}, CPU)
    result = evaluate(gallery, ("test",), (10,), lpips=Lpips(reason="absent"), progress=False)
    assert result.losses == {"gan": "random_vgg19_relu2_2"}
    text = table_markdown(result, summarize(result.per_image), "test", 10)
    assert "Perceptual loss of gan: random_vgg19_relu2_2 (a fallback" in text


@pytest.fixture
def unet_models(tmp_path):
    """A NoGAN release (an untrained small U-Net) for QF 10 only."""
    from artifact_removal.archs.unet import UNet, UNetConfig
    from artifact_removal.inference.releases import generator_release

    torch.manual_seed(0)
    net = UNet(UNetConfig("mobilenet_v3_small", width=0.25))
    save_atomic(generator_release(net) | {"quality": 10, "method": "nogan"},
                tmp_path / "unet" / "q10.pt")  # fmt: skip
    return tmp_path / "unet"


def test_a_method_is_scored_at_its_own_qualities_with_super_resolution_rows(
    prepared, models, unet_models
):
    gallery = Gallery(prepared, {"ssim": models, "nogan": unet_models}, CPU,
                      qualities={"nogan": (10,)}, super_resolution=2)  # fmt: skip
    assert gallery.choices == ("original", "jpeg", "ssim", "nogan", "jpeg_sr2", "ssim_sr2",
                               "nogan_sr2")  # fmt: skip
    rows = evaluate(gallery, ("test",), (10, 40), lpips=Lpips(reason="none")).per_image
    seen = rows.groupby("method")["quality"].unique().map(sorted).to_dict()
    assert seen["nogan"] == [10] and seen["nogan_sr2"] == [10] and seen["jpeg_sr2"] == [10, 40]
    # the untrained U-Net returns its input: the JPEG, and the super-resolution input
    at10 = rows[rows["quality"] == 10].set_index(["key", "method"])["psnr_y"]
    assert at10[("astro", "nogan")] == pytest.approx(at10[("astro", "jpeg")], abs=1e-9)
    assert at10[("astro", "nogan_sr2")] == pytest.approx(at10[("astro", "jpeg_sr2")], abs=1e-9)
    assert at10[("astro", "jpeg_sr2")] < at10[("astro", "jpeg")]  # downscaling loses detail
    summary = summarize(rows)
    order = list(summary.query("quality == 10")["method"])
    assert order == ["original", "jpeg", "ssim", "nogan", "jpeg_sr2", "ssim_sr2", "nogan_sr2"]
    # at a QF it is not trained for, a method restores with its nearest trained generator
    assert gallery.generator("nogan", 40) is gallery.generator("nogan", 10)


def test_a_methods_published_table_is_printed_beside_it_at_its_qf():
    import pandas as pd

    from artifact_removal.stages.published_tables import paper_tables

    summary = pd.DataFrame(
        {"set": "live1", "quality": 20, "method": ["original", "jpeg", "nogan_pre", "nogan"],
         "ssim_rgb": [np.nan, 0.8, 0.82, 0.81], "brisque": [10.0, 50.0, 40.0, 30.0],
         "niqe": [3.0, 6.0, 5.0, 4.0]})  # fmt: skip
    text = paper_tables(summary, "live1", 20)
    assert "Table I, artifact removal" in text and "Table II, super-resolution" in text
    assert re.search(r"\| nogan_pre +\| +0.8200 \| n/a", text) and "| pre-GAN " in text
    assert paper_tables(summary, "live1", 10) == ""
    assert paper_tables(summary[summary["method"] != "nogan"].assign(
        method=["original", "jpeg", "ssim"]), "live1", 20) == ""  # fmt: skip


def test_the_super_resolution_input_keeps_the_size():
    from artifact_removal.degradations.jpeg import downscaled_jpeg

    rng = np.random.default_rng(0)
    for shape in ((37, 50, 3), (37, 50)):
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        assert downscaled_jpeg(image, 20, 2).shape == shape


def test_the_strength_curve_runs_between_the_two_methods(prepared, models, tmp_path):
    from artifact_removal.inference.gallery import JPEG
    from artifact_removal.metrics.full_reference import psnr
    from artifact_removal.stages.strength import STRENGTHS
    from artifact_removal.stages.strength_curve import strength_curve, strength_figure

    torch.manual_seed(1)
    for quality in (10, 40):  # a GAN fine-tuned from the SSIM generator: its weights moved
        release = torch.load(models / f"q{quality}.pt", weights_only=True)
        release["model"] = {k: v + 0.05 * torch.randn_like(v) for k, v in release["model"].items()}
        save_atomic(release | {"method": "gan"}, tmp_path / "gan" / f"q{quality}.pt")
    gallery = Gallery(prepared, {"ssim": models, "gan": tmp_path / "gan"}, CPU)
    curve = strength_curve(gallery, "test", 10, progress=False).set_index(["method", "strength"])
    dialled = curve.loc["gan"]
    assert list(dialled.index) == list(STRENGTHS) and set(dialled["start"]) == {"ssim"}
    assert set(curve["images"]) == {2}
    one = strength_curve(gallery, "test", 10, progress=False, images=1)
    assert set(one["images"]) == {1}  # evaluate.sampled_images: a spread of the set's images
    for strength, method in ((0.0, "ssim"), (1.0, "gan")):  # the ends are the two methods
        expected = np.mean([psnr(gallery.image("test", k, 0, "original"),
                                 gallery.image("test", k, 10, method), "y")
                            for k in gallery.keys("test")])  # fmt: skip
        assert dialled.loc[strength, "psnr_y"] == pytest.approx(expected, abs=1e-9)
    middle = dialled.loc[0.5, "psnr_y"]
    assert middle not in (dialled.loc[0.0, "psnr_y"], dialled.loc[1.0, "psnr_y"])
    assert np.isfinite(curve.loc[(JPEG, np.nan), "psnr_y"]).all()
    figure = strength_figure(curve.reset_index(), "test")
    assert figure.axes[0].get_xlabel().startswith("NIQE")
    assert (
        strength_curve(Gallery(prepared, {"ssim": models}, CPU), "test", 10, progress=False)[
            "strength"
        ]
        .isna()
        .all()
    )  # nothing to dial: no curve


def test_gains_over_jpeg_come_with_their_95_percent_interval():
    from artifact_removal.stages.evaluate import gains, with_intervals

    rows = pd.DataFrame(
        [{"set": "s", "quality": 10, "method": m, "key": k, "psnr_rgb": v, "psnr_y": v + 1}
         for m, k, v in [("jpeg", "a", 20.0), ("jpeg", "b", 30.0), ("jpeg", "c", 25.0),
                         ("ssim", "a", 21.0), ("ssim", "b", 30.5), ("ssim", "c", 26.5)]]
    )  # fmt: skip
    table = gains(rows).set_index("method")
    diffs = np.array([1.0, 0.5, 1.5])  # ssim's gains, image by image
    half = 4.302653 * diffs.std(ddof=1) / np.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert table.loc["ssim", "gain_rgb"] == pytest.approx(1.0)
    assert table.loc["ssim", "gain_y_ci95"] == pytest.approx(half, rel=1e-6)
    assert table.loc["jpeg", ["gain_rgb", "gain_rgb_ci95"]].tolist() == [0, 0]
    shown = with_intervals(table.reset_index())
    assert shown.set_index("method").loc["ssim", "gain_rgb"] == f"+1.00 ± {half:.2f}"
    assert "gain_rgb_ci95" not in shown


def test_extra_sets_are_scored_at_the_published_qfs_only(prepared, models):
    gallery = Gallery(prepared | {"live1": prepared["test"]}, {"ssim": models}, CPU)
    result = evaluate(
        gallery, ("test", "live1"), (10, 40), lpips=None, progress=False, set_qualities=(10,)
    )
    scored = result.per_image.query("method == 'ssim'").groupby("set")["quality"].unique()
    assert sorted(scored["test"]) == [10, 40] and list(scored["live1"]) == [10]


def test_the_report_says_what_differs_from_the_papers(prepared_project):
    from artifact_removal.stages.paper_scale import scale_differences

    params = load_params(prepared_project / "params.yaml")
    table = scale_differences(params, prepared_project)
    here = table["here"]
    generator = build_generator(params.train_ssim.generator)
    parameters = sum(p.numel() for p in generator.parameters())
    assert f"{parameters:,} parameters" in here["generator (ssim, gan)"]
    assert "1,148,291 parameters" in table.loc["generator (ssim, gan)", "the papers"]
    ssim = params.train_ssim
    assert f"{ssim.steps} steps of {ssim.batch_size} patches" in here.iloc[2]
    # the fixture's manifest records no ImageNet weights: the rows say the random stand-ins
    assert here.iloc[3].startswith("seeded random VGG-19")
    assert "no ImageNet weights here" in table["why"].iloc[3]
    splits = json.loads((prepared_project / "data/prepared/splits.json").read_text())
    photographs = {key.split("~")[0] for key in splits["train"]}
    assert f": {len(photographs)} training photographs (" in here["training data"]
    gan = params.train_gan
    released = here["GAN: what is released"]
    assert released.startswith(f"the moving average of the weights (decay {gan.ema:g})")
    assert f"best of {gan.steps // gan.val_every} validations by held-out niqe" in released


def test_synthetic_training_images_are_not_counted_as_photographs(small_project):
    from artifact_removal.stages.paper_scale import scale_differences

    path = small_project / "data/prepared/splits.json"
    splits = json.loads(path.read_text())
    photographs = {key.split("~")[0] for key in splits["train"]}
    splits["train"] += ["dead_leaves_000", "dead_leaves_000~1", "dead_leaves_001"]
    path.write_text(json.dumps(splits))
    table = scale_differences(load_params(small_project / "params.yaml"), small_project)
    said = table.loc["training data", "here"]
    assert f": {len(photographs)} training photographs (" in said
    assert "2 synthetic dead-leaves images" in said


def test_a_set_scored_at_fewer_qfs_gets_no_table_of_originals_alone():
    rows = pd.DataFrame(
        {"set": ["test"] * 3 + ["live1"] * 3, "key": "a", "quality": [0, 10, 60, 0, 10, 10],
         "method": ["original", "jpeg", "jpeg", "original", "jpeg", "ssim"],
         "psnr_y": [np.nan, 25.0, 33.0, np.nan, 26.0, 27.0], "niqe": [3.0, 6.0, 4.0, 3.5, 6.5, 5.0]}
    )  # fmt: skip
    summary = summarize(rows)
    tables = summary.groupby("set")["quality"].unique().map(sorted).to_dict()
    assert tables == {"live1": [10], "test": [10, 60]}  # live1 was not scored at QF 60
    live1 = summary.query("set == 'live1'").set_index("method")
    assert live1.loc["original", "niqe"] == 3.5 and live1.loc["ssim", "gain_y"] == 1.0


def test_the_held_out_split_says_what_it_is(tmp_path):
    from artifact_removal.data.prepared import set_title

    folder = tmp_path / "prepared" / "sets" / "test"
    folder.mkdir(parents=True)
    assert set_title("test", folder) == "test (the corpus' held-out split)"  # no record yet
    for holds, said in (("bsds500", "CBSD68"), ("embedded", "the embedded corpus")):
        (tmp_path / "prepared" / "corpus.json").write_text(json.dumps({"holds": holds}))
        assert set_title("test", folder).startswith(f"test ({said}")
    assert set_title("live1_gray", tmp_path / "sets" / "live1_gray") == "live1_gray"
