"""The rules over several sections that need the registry: the methods the study, the
detection and the ladder name must be ones that can do what those stages ask of them."""

from __future__ import annotations

from ..config import Params, add_check
from ..degradations.codecs import codec_of
from .registry import METHODS, get, qualities_of


def check_shown_methods(params: Params) -> list[str]:
    """The study's and the detection's methods restore JPEG at QFs they are trained for
    (unknown names are said by the config's own check)."""
    problems = []
    for key in ("study", "detection"):
        section = params.section(key)
        for name in section.methods:
            if name not in METHODS:
                continue
            if f"{key}.methods" not in codec_of(get(name).codec).shown_in:
                problems.append(
                    f"{key}.methods: {name} restores {get(name).codec}, which {key} does not show"
                )
                continue
            missing = [q for q in section.qualities if q not in qualities_of(params, name)]
            if missing:
                problems.append(
                    f"{key}.qualities: {name} is not trained for QF "
                    f"{', '.join(map(str, missing))} (it is for "
                    f"{list(qualities_of(params, name))})"
                )
    return problems


def check_ladder(params: Params) -> list[str]:
    """The ladder is measured for methods whose generators are blended (stage ladder)."""
    problems = []
    for name in params.ladder.methods:
        if name not in METHODS:
            problems.append(f"ladder.methods: unknown method {name!r}; known: {list(METHODS)}")
        elif get(name).combine != "blend":
            problems.append(
                f"ladder.methods: {name} takes the nearest generator alone "
                "(combine nearest); a ladder is measured for blended ones"
            )
    return problems


add_check(check_shown_methods)
add_check(check_ladder)
