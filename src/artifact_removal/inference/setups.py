"""What restores each kind of input of a `restore` run (images, videos): the method's
generators, its QF or CRF predictor, its measured ladder and the project's CRF reading, taken
from the project unless given, checked, with the settings every output records (`Setup`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..checkpoints import fingerprint
from ..config import ConfigError
from ..degradations.codecs import codec_of
from ..fileio import sha256
from ..methods import METHODS, combine_of
from ..methods import get as get_method
from ..methods import models_dir as models_dir_of
from ..methods.predictors import predictor_of
from .choice import RestoreError
from .crf_reading import QPFit, ReadingError
from .ensemble import Ensemble, shown_path
from .ladder import Ladder, LadderError

# What restores each kind of input when no method is given (`method="auto"`): the method whose
# `default_for` names the kind (images: the GAN of the papers; videos: the generators trained
# on H.264 frames. The image GAN, guided by the JPEG QF predictor, made held-out H.264 clips
# worse: benchmarks/RESULTS.md, "Do no harm").
DEFAULT_METHODS = {m.default_for: m.name for m in METHODS.values() if m.default_for}
# The committed release (stage `release`): the weights `restore` uses in a project that has
# trained none of its own yet (a fresh clone): release/<method>/q<QF>.pt (the GAN's and the SSIM
# generators), release/qf/predictor.pt, release/ladder/<method>.json (the SSIM ladder) and
# release/default.json, the images' default (`inference.default`).
RELEASE_DIR = "release"
RELEASED_PREDICTOR = Path("qf") / "predictor.pt"  # the QF predictor, in the release folder
RELEASED_LADDERS = "ladder"


def trained_here(project: Path) -> bool:
    """Whether the project has trained models of its own (any method's release folder holds
    generators): then it restores with them alone, never mixed with the committed release."""
    from ..config import load_params, resolve_path
    from .releases import find_releases

    params = load_params(project / "params.yaml")
    return any(
        find_releases(resolve_path(models_dir_of(params, name), project)) for name in METHODS
    )


def release_folder(project: Path | None) -> Path | None:
    """The committed release, when `restore` is to use it: in a project that has trained none
    of its own models (`trained_here`) and holds one; else None."""
    if project is None or not (project / RELEASE_DIR).is_dir() or trained_here(project):
        return None
    return project / RELEASE_DIR


def find_project(start: Path | None = None) -> Path | None:
    """The project whose trained models to use: the folder at or above `start` (default: the
    current folder) with params.yaml and dvc.yaml; None outside a project."""
    from ..config import ConfigError, find_project_root

    try:
        return find_project_root(start)
    except ConfigError:
        return None


def find_generators(method: str, models_dir: Path | None, project: Path | None) -> dict[int, Path]:
    """{QF: release file} of `method`: from `models_dir`, or from the project's release folder."""
    from ..config import load_params, resolve_path
    from .releases import find_releases

    try:
        get_method(method)
    except ConfigError as err:
        raise RestoreError(str(err)) from None
    if models_dir is None and project is None:
        raise RestoreError(
            f"no generators: {Path.cwd()} is not inside a project (no params.yaml with a "
            "dvc.yaml beside it here or above) and no --models DIR was given. Run the command "
            "inside the project that trained them, or give the folder of q<QF>.pt files"
        )
    folder = models_dir
    if folder is None:
        params = load_params(project / "params.yaml")
        folder = resolve_path(models_dir_of(params, method), project)
        release = release_folder(project)
        if release is not None and find_releases(release / method):
            folder = release / method  # a fresh clone: the committed weights
    found = find_releases(folder)
    if not found:
        section = get_method(method).stage_name
        raise RestoreError(
            f"no {method} generators (q<QF>.pt files) in {folder}. Train them in the project "
            f"with `make repro` (or `dvc repro {section}`), or give the folder that holds them "
            "with --models DIR"
        )
    return found


def file_digest(path: Path) -> str:
    """A file's sha256 (`fileio.sha256`), short."""
    return sha256(Path(path))[:16]


@dataclass
class Setup:
    """What restores one kind of input (images, or videos): the method, its ensemble, the
    settings an output depends on besides its input (recorded in it), and their hash."""

    method: str
    ensemble: Ensemble
    settings: dict
    settings_id: str
    note: str = ""  # said under the run's header: why the default was not used


def load_setup(
    method: str,
    project: Path | None,
    models_dir,
    predictor,
    override: int | None,
    device,
    common: dict,
    strength: float | None = None,
) -> Setup:
    """The method's generators and predictor (the project's unless given), checked. With a
    `strength` below 1, each generator is interpolated with the one it starts from
    (`inference.strength`); at 0 that one alone restores, as its own method does."""
    if strength is not None:
        from .strength import start_of

        start = start_of(method)  # a method without a dial is refused, whatever the strength
    if strength is not None and strength < 1:
        if models_dir:
            raise RestoreError(
                f"strength mixes the generators of {start} and {method} of the project, and "
                "--models names one folder: run inside the project that trained both"
            )
        if strength == 0:  # exactly the start method's restoration
            return load_setup(start, project, None, predictor, override, device, common)
    paths = find_generators(method, Path(models_dir) if models_dir else None, project)
    codec = get_method(method).codec
    video_method = codec_of(codec).video  # trained on H.264 frames, per CRF
    if predictor is None and project is not None:
        predictor = project_predictor(project, codec)
    predictor = Path(predictor) if predictor else None
    digests = {q: file_digest(p) for q, p in sorted(paths.items())}
    dialled = strength is not None and strength < 1
    ladder = None if dialled else project_ladder(method, project, digests)[0]
    settings = {  # what an output depends on besides its input; recorded in every output
        "method": method,
        **common,
        "generators": {str(q): d for q, d in digests.items()},
        "predictor": file_digest(predictor) if predictor and predictor.is_file() else None,
    }
    if ladder is not None:
        settings["ladder"] = fingerprint(ladder.levels)
    reading, reading_path = project_reading(project) if video_method else (None, None)
    if reading is not None:
        settings["crf_reading"] = file_digest(reading_path)
    parts = dict(
        paths=paths,
        combine=combine_of(method),
        device=device,
        predictor=predictor,
        codec=codec,
        ladder=ladder,
        reading=reading,
    )
    if dialled:
        from .strength import DialledEnsemble

        start_paths = find_generators(start, None, project)
        settings["strength"] = strength
        settings["start_generators"] = {
            str(q): file_digest(start_paths[q]) for q in sorted(paths) if q in start_paths
        }
        ensemble = DialledEnsemble(start_paths, strength, **parts)
    else:
        ensemble = Ensemble(**parts)
    return Setup(method, ensemble, settings, fingerprint(settings))


def project_predictor(project: Path, codec: str) -> Path:
    """The project's predictor of the codec's level: the QF predictor (JPEG methods), the CRF
    predictor (H.264)."""
    from ..config import load_params

    release = release_folder(project)
    if release is not None and codec == get_method(DEFAULT_METHODS["image"]).codec:
        return release / RELEASED_PREDICTOR
    return predictor_of(codec).release(load_params(project / "params.yaml"), project)


def project_ladder(
    method: str, project: Path | None, digests: dict[int, str]
) -> tuple[Ladder | None, Path | None]:
    """The project's measured ladder of `method` and its file, when it was measured for these
    very generators (stage ladder), else (None, None): the ensemble's rule decides."""
    if project is None:
        return None, None
    from ..config import load_params, resolve_path

    params = load_params(project / "params.yaml")
    path = resolve_path(params.ladder.dir, project) / f"{method}.json"
    release = release_folder(project)
    if release is not None:
        path = release / RELEASED_LADDERS / f"{method}.json"
    if method not in params.ladder.methods or not path.is_file():
        return None, None
    try:
        ladder = Ladder.load(path)
    except LadderError as err:
        raise RestoreError(str(err)) from None
    if ladder.levels and ladder.matches(digests):
        return ladder, path
    return None, None  # the rule


def project_reading(project: Path | None) -> tuple[QPFit | None, Path | None]:
    """The project's line from H.264 QPs to CRF (stage crf_reading) and its file, or None
    when there is none: then the CRF predictor reads streams without x264's settings."""
    if project is None:
        return None, None
    from ..config import load_params, resolve_path

    path = resolve_path(load_params(project / "params.yaml").crf_reading.out, project)
    if not path.is_file():
        return None, None
    try:
        return QPFit.load(path), path
    except ReadingError as err:
        raise RestoreError(str(err)) from None


def load_default_setup(
    project: Path | None, predictor, device, common: dict
) -> tuple[Setup | None, str]:
    """The images' default (`inference.default`): the GAN's generators at the strength
    measured for each QF (stage `release`), and "". Or None, and why not (empty when the
    project has no choice at all), when the choice was measured for other generators or
    another ladder: then `DEFAULT_METHODS` restores, at full strength."""
    from .default import FILE, ChosenEnsemble, DefaultChoice, DefaultError

    path = project / RELEASE_DIR / FILE if project is not None else None
    if path is None or not path.is_file():
        return None, ""
    try:
        choice = DefaultChoice.load(path)
    except DefaultError as err:
        raise RestoreError(str(err)) from None
    image = DEFAULT_METHODS["image"]
    if (choice.method, choice.start) != (image, get_method(image).starts_from):
        return None, f"{shown_path(path)} is the choice of {choice.method}, not of {image}"
    paths = {m: find_generators(m, None, project) for m in (choice.method, choice.start)}
    digests = {m: {q: file_digest(p) for q, p in found.items()} for m, found in paths.items()}
    ladder = project_ladder(choice.start, project, digests[choice.start])[0]
    measured = fingerprint(ladder.levels) if ladder is not None else None
    if not choice.matches(digests) or choice.ladder != measured:
        return None, (
            f"{shown_path(path)} was measured for other generators or another ladder: "
            f"{image} at full strength (`dvc repro release` measures it again)"
        )
    codec = get_method(choice.method).codec
    predictor = Path(predictor) if predictor else project_predictor(project, codec)
    settings = {
        "method": choice.method,
        **common,
        "generators": {str(q): d for q, d in sorted(digests[choice.method].items())},
        "start_generators": {str(q): d for q, d in sorted(digests[choice.start].items())},
        "predictor": file_digest(predictor) if predictor.is_file() else None,
        "default": fingerprint(choice.levels),  # the strengths, not the scores beside them
        "ladder": measured,
    }
    ensemble = ChosenEnsemble(
        choice,
        paths[choice.start],
        paths=paths[choice.method],
        combine=combine_of(choice.start),
        device=device,
        predictor=predictor,
        codec=codec,
        ladder=ladder,
    )
    return Setup(choice.method, ensemble, settings, fingerprint(settings)), ""


def load_onnx_setup(method: str, folder, device: str, common: dict, kind: str = "image") -> Setup:
    """What restores from an ONNX export folder (`inference.onnx_backend`): its method's
    generators and predictor on ONNX Runtime, the ladder and CRF reading it carries."""
    from .onnx_backend import onnx_ensemble, providers_for

    if not folder:
        raise RestoreError(
            "the onnxruntime backend restores from an export folder: give it with --models DIR "
            "(written by `artifact-removal export --method M --format onnx -o DIR`)"
        )
    ensemble, manifest = onnx_ensemble(Path(folder), providers_for(device))
    if method not in ("auto", manifest["method"]):
        raise RestoreError(
            f"{folder} holds the export of {manifest['method']}, not of {method}: give "
            f"--method {manifest['method']} (or leave --method out)"
        )
    if method == "auto" and manifest["method"] != DEFAULT_METHODS[kind]:
        raise RestoreError(
            f"{folder} holds the export of {manifest['method']}; {kind}s are restored by "
            f"{DEFAULT_METHODS[kind]} unless told otherwise: give --method "
            f"{manifest['method']} to restore them with this export"
        )
    method = manifest["method"]
    folder = Path(folder)
    extra = [manifest["predictor"]["grid"]] if manifest.get("predictor") else []
    extra += [manifest[key] for key in ("ladder", "crf_reading") if manifest.get(key)]
    settings = {
        "method": method,
        **common,
        "backend": "onnxruntime",
        "generators": {str(q): file_digest(p) for q, p in sorted(ensemble.paths.items())},
        "predictor": file_digest(ensemble.predictor_path) if ensemble.predictor_path else None,
        "files": {name: file_digest(folder / name) for name in extra},  # grid, ladder, reading
    }
    return Setup(method, ensemble, settings, fingerprint(settings))


def setups_for(options, kinds: list[str], project: Path | None) -> dict[str, Setup]:
    """What restores each kind of input ("image", "video") of a run with `options`
    (`restore.options.RestoreOptions`, checked by `restore_files`): the same on the machine
    that plans a run and on every worker that restores part of it (`restore.on_ray`)."""
    from .strength import check_strength

    override = None if options.quality == "auto" else int(options.quality)
    common = {
        "quality": override,
        "bits": options.bits,
        "tile": options.tile,
        "overlap": options.overlap,
        "uncompressed": options.restore_uncompressed,
        **options.image.settings(),
    }
    method = options.method
    if options.backend == "onnxruntime":
        setups = {
            kind: load_onnx_setup(method, options.models_dir, options.device, common, kind)
            for kind in kinds
        }
    else:
        from ..runtime import select_device

        try:
            device = select_device(options.device)
        except (ValueError, RuntimeError) as err:
            raise RestoreError(str(err)) from None
        strength = check_strength(options.strength)
        setups = {}
        for kind in kinds:
            name = DEFAULT_METHODS[kind] if method == "auto" else method
            dialled = strength is not None and (method != "auto" or get_method(name).starts_from)
            # (auto: the dial is for the kinds whose default method has one: the images' GAN;
            # videos go to video_ssim, trained from scratch, as without --strength)
            dial = strength if dialled else None
            chosen, why = None, ""
            if method == "auto" and kind == "image" and dial is None and not options.models_dir:
                chosen, why = load_default_setup(project, options.predictor, device, common)
            setups[kind] = chosen or load_setup(
                name, project, options.models_dir, options.predictor, override, device, common, dial
            )
            setups[kind].note = why
    if "video" in setups:  # a video's frames: the same settings, its encoding, its segments
        video = setups["video"]
        video.settings_id = fingerprint(
            {
                **video.settings,
                "video": options.video.settings(),
                "segment_frames": options.segment_frames,
            }
        )
    return setups
