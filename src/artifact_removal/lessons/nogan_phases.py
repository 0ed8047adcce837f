"""NoGAN's phases, one at a time (notebook 04): what each trains, and the critic's pretraining
read from the run's own history."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def phase_table(pre_settings, gan_settings) -> pd.DataFrame:
    """A row per phase of NoGAN as params.yaml sets it: steps, patches, what learns."""
    rows = [
        {
            "phase": f"1.{i + 1} generator pretraining",
            "steps": p.steps,
            "patch": p.patch_size,
            "learns": "decoder (encoder frozen)" if p.frozen else "whole generator",
        }
        for i, p in enumerate(pre_settings.phases)
    ]
    rows.append(
        {
            "phase": "2 critic pretraining",
            "steps": gan_settings.critic_steps,
            "patch": gan_settings.patch_size,
            "learns": "critic only (generator frozen)",
        }
    )
    every, out_of = gan_settings.generator_steps
    rows.append(
        {
            "phase": "3 GAN",
            "steps": gan_settings.gan_steps,
            "patch": gan_settings.patch_size,
            "learns": f"critic every step, generator {every} of every {out_of} (at most)",
        }
    )
    return pd.DataFrame(rows).set_index("phase")


def critic_pretraining_figure(history: list[dict], critic_steps: int) -> plt.Figure:
    """The critic's loss and accuracy over its pretraining (steps 1..critic_steps), from the
    run's logged history (means over each logging window)."""
    logged = [e for e in history if 0 < e["step"] <= critic_steps and "c_loss" in e]
    steps = [e["step"] for e in logged]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    left.plot(steps, [e["c_loss"] for e in logged], marker="o")
    left.set(xlabel="step", ylabel="critic loss (BCE)", title="critic pretraining: loss")
    right.plot(steps, [e["c_accuracy"] for e in logged], marker="o", color="tab:green")
    right.axhline(0.5, color="grey", linestyle=":", label="chance")
    right.set(xlabel="step", ylabel="accuracy", ylim=(0, 1.02), title="... and accuracy")
    right.legend(loc="lower right")
    fig.tight_layout()
    plt.close(fig)
    return fig
