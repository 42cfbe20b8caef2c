"""figa's objectives (docs/loss.md): the FIGA loss (every weighting, DFT's probability scaling), its push-down
anchored to the reference, and the edit-weighted preference loss. The formulas are in `figa.loss`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from ..errors import FigaError
from ..loss import WEIGHTINGS, LossSettings, edit_preference_loss, figa_loss, pair_weights
from ..records import MAX_WEIGHT
from .base import Objective, ObjectiveSettings, TokenBatch, register


@dataclass(frozen=True)
class FIGASettings(ObjectiveSettings):
    """The FIGA loss's settings; the defaults are those of the authors' released code."""

    weighting: str = "figa"  # figa: edit kinds; bow: bag of words; external: the records'
    alpha: float = 1.0
    beta: float = 0.5
    gamma: float = 0.0
    tau: float = 0.6
    eos_weight: float | None = None  # None: alpha (the paper's rule)
    prob_scale: bool = False  # DFT (Wu et al., 2025): each raised token's weight times its probability

    def check(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise FigaError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {self.weighting!r}")
        for name in ("alpha", "beta", "gamma", "eos_weight"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_WEIGHT:  # also refuses NaN
                raise FigaError(f"{name} must be a number from 0 to {MAX_WEIGHT:g}, got {value}")


def _token_metrics(nll: torch.Tensor, weights: torch.Tensor) -> dict[str, torch.Tensor]:
    positive, negative, nll = weights > 0, weights < 0, nll.detach()
    return {
        "positive_nll_sum": (nll * positive).sum(),
        "positive_count": positive.sum(),
        "negative_nll_sum": (nll * negative).sum(),
        "negative_count": negative.sum(),
    }


def _mean_nlls(sums: Mapping[str, float]) -> dict[str, float]:
    logs = {}
    if sums.get("positive_count"):
        logs["positive_nll"] = sums["positive_nll_sum"] / sums["positive_count"]
    if sums.get("negative_count"):
        logs["negative_nll"] = sums["negative_nll_sum"] / sums["negative_count"]
    return logs


@register
class FIGAObjective(Objective):
    """L = (sum_t w+_t nll(revised_t) - sum_t beta g_t nll(original_t)) / N, N the weighted tokens of the step."""

    name = "figa"
    Settings = FIGASettings
    settings: FIGASettings

    @classmethod
    def from_values(cls, values: Mapping) -> Objective:
        """FIGA with an --anchor_tau is the anchored objective (as `--objective anchor`)."""
        if cls is FIGAObjective and values.get("anchor_tau") is not None:
            return AnchoredFIGA.from_values(values)
        return super().from_values(values)

    def loss_settings(self) -> LossSettings:
        s = self.settings
        return LossSettings(s.weighting, s.alpha, s.beta, s.gamma, s.tau, s.eos_weight, s.prob_scale, self.anchor_tau)

    @property
    def anchor_tau(self) -> float | None:
        return None

    def pair_weights(self, pair: Mapping) -> dict[str, torch.Tensor]:
        return pair_weights(pair, self.loss_settings())

    def loss(self, batch: TokenBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss, stats = figa_loss(
            batch.nll,
            batch.weights,
            self.settings.tau,
            batch.num_items,
            self.settings.prob_scale,
            batch.reference_nll,
            self.anchor_tau,
        )
        return loss, {**_token_metrics(batch.nll, batch.weights), "gate_pass_count": stats["gate_pass_count"]}

    def log_values(self, sums: Mapping[str, float]) -> dict[str, float]:
        logs = _mean_nlls(sums)
        if sums.get("negative_count"):
            logs["gate_pass_fraction"] = sums["gate_pass_count"] / sums["negative_count"]
        return logs

    def report(self) -> dict:
        """As figa has always recorded it: the five paper settings, and the others where they are set."""
        s = self.settings
        report = {"weighting": s.weighting, "alpha": s.alpha, "beta": s.beta, "gamma": s.gamma, "tau": s.tau}
        if s.prob_scale:
            report["prob_scale"] = True
        if s.eos_weight is not None:
            report["eos_weight"] = s.eos_weight
        return report


@dataclass(frozen=True)
class AnchoredSettings(FIGASettings):
    anchor_tau: float = 2.0  # push down while nll - reference nll <= anchor_tau (the demo's chosen value)

    def check(self) -> None:
        super().check()
        if not self.anchor_tau >= 0:
            raise FigaError(f"anchor_tau must be a finite number >= 0, got {self.anchor_tau}")


@register
class AnchoredFIGA(FIGAObjective):
    """FIGA with the push-down gated by the reference: an original token is pushed down only while its nll exceeds
    the reference's by at most anchor_tau nats (+ `figa.loss.ANCHOR_SLACK`), instead of while nll <= tau."""

    name = "anchor"
    Settings = AnchoredSettings
    settings: AnchoredSettings

    @property
    def anchor_tau(self) -> float | None:
        return self.settings.anchor_tau

    @property
    def needs_reference(self) -> bool:
        return True

    def report(self) -> dict:
        return {**super().report(), "anchor_tau": self.settings.anchor_tau}


@dataclass(frozen=True)
class PreferenceSettings(FIGASettings):
    pref_beta: float = 0.1  # DPO's beta (TRL's default)

    def check(self) -> None:
        super().check()
        if not self.pref_beta > 0:
            raise FigaError(f"pref_beta must be a finite number > 0, got {self.pref_beta}")


@register
class EditPreference(FIGAObjective):
    """-log sigmoid(pref_beta * (sum_t w_t log-ratio(revised_t) - sum_t w_t log-ratio(original_t))) per pair, the
    log-ratio to the reference, w_t alpha on edited tokens and gamma on kept ones on both sides; N the pairs."""

    name = "preference"
    Settings = PreferenceSettings
    settings: PreferenceSettings
    normaliser = "pairs"

    @property
    def needs_reference(self) -> bool:
        return True

    def loss_settings(self) -> LossSettings:
        return LossSettings(**{**vars(super().loss_settings()), "objective": "preference"})

    def loss(self, batch: TokenBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss, stats = edit_preference_loss(
            -batch.nll,
            -batch.reference_nll,
            batch.weights,
            batch.pair_index,
            batch.num_pairs,
            batch.num_items,
            self.settings.pref_beta,
        )
        metrics = {name: stats[name] for name in ("margin_sum", "pairs", "pairs_ahead")}
        return loss, {**_token_metrics(batch.nll, batch.weights), **metrics}

    def log_values(self, sums: Mapping[str, float]) -> dict[str, float]:
        logs = _mean_nlls(sums)
        if sums.get("pairs"):  # TRL's rewards/margins and rewards/accuracies
            logs["reward_margin"] = sums["margin_sum"] / sums["pairs"]
            logs["reward_accuracy"] = sums["pairs_ahead"] / sums["pairs"]
        return logs

    def report(self) -> dict:
        return {**super().report(), "objective": "preference", "pref_beta": self.settings.pref_beta}
