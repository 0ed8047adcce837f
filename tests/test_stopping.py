"""NoGAN's stopping rule on scripted score sequences, and its glitch measures."""

from __future__ import annotations

import math

import pytest
import torch

from artifact_removal.training.stopping import StopRule, colour_shift, high_frequency_ratio


def feed(rule: StopRule, scores, shifts=None, highs=None) -> list[int]:
    """Feed checks every 10 steps until the rule stops; the steps fed."""
    fed = []
    for i, score in enumerate(scores):
        step = 10 * (i + 1)
        rule.judge(step, score, (shifts or {}).get(step, 0.0), (highs or {}).get(step, 1.0))
        fed.append(step)
        if rule.stop:
            break
    return fed


def test_stops_after_patience_checks_without_improvement_and_keeps_the_best():
    rule = StopRule(patience=3)
    fed = feed(rule, [0.30, 0.25, 0.22, 0.23, 0.24, 0.22, 0.10])
    assert fed == [10, 20, 30, 40, 50, 60]  # 0.10 at step 70 is never reached
    assert rule.best["step"] == 30  # a tie (0.22 at 60) keeps the earlier check


def test_an_improvement_resets_the_count():
    rule = StopRule(patience=2)
    assert feed(rule, [0.3, 0.31, 0.2, 0.25, 0.26]) == [10, 20, 30, 40, 50]
    assert rule.best["step"] == 30


def test_glitches_disqualify_a_check_however_good_its_score():
    rule = StopRule(patience=2, max_colour_shift=3.0, max_high_frequency=1.5)
    feed(rule, [0.30, 0.20, 0.10, 0.05], shifts={30: 4.0}, highs={40: 2.0})
    assert rule.best["step"] == 20 and math.isinf(rule.history[2]["effective"])
    assert rule.stop


def test_no_finite_score_stops_after_patience_checks():
    rule = StopRule(patience=2)
    assert feed(rule, [math.nan, math.nan, 0.1]) == [10, 20] and rule.best is None


def test_the_rule_resumes_from_its_state():
    first = StopRule(patience=3)
    feed(first, [0.3, 0.2])
    second = StopRule(patience=3)
    second.load_state(first.state())
    for step, score in ((30, 0.25), (40, 0.26)):
        second.judge(step, score)
        assert not second.stop
    second.judge(50, 0.27)
    assert second.stop and second.best["step"] == 20


def test_glitch_measures_on_known_images():
    torch.manual_seed(0)
    base = torch.rand(2, 3, 32, 32) * 1.6 - 0.8
    assert colour_shift(base, base) == 0 and high_frequency_ratio(base, base) == 1
    assert abs(colour_shift(base + 3 / 127.5, base) - 3.0) < 1e-4  # 3 levels brighter
    noisy = base + 0.2 * torch.randn_like(base)
    assert high_frequency_ratio(noisy, base) > 1.2
    smooth = torch.nn.functional.avg_pool2d(base, 3, stride=1, padding=1)
    assert high_frequency_ratio(smooth, base) < 0.5


def test_glitch_statistics_give_the_measures_of_the_whole_images():
    from artifact_removal.training.stopping import glitch_statistics, glitches

    torch.manual_seed(0)
    images = [torch.rand(1, 3, 20 + i, 30) * 2 - 1 for i in range(3)]
    reference = [(x * 0.5).clamp(-1, 1) for x in images]
    shift, high = glitches([glitch_statistics(x) for x in images],
                           [glitch_statistics(r) for r in reference])  # fmt: skip
    expected_shift = sum(colour_shift(x, r) for x, r in zip(images, reference, strict=True)) / 3
    expected_high = sum(high_frequency_ratio(x, r) for x, r in zip(images, reference,
                                                                   strict=True)) / 3  # fmt: skip
    assert shift == pytest.approx(expected_shift, rel=1e-5)
    assert high == pytest.approx(expected_high, rel=1e-5)
