"""The Laplace-threshold mechanism of every release: its parameters, privacy loss and threshold.

Pure arithmetic over OpenDP, with no store: :mod:`mapping.access.disclosure` counts, releases
and keeps the ledger. The derivation of every parameter is in docs/disclosure.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mapping.errors import InvalidInputError
from mapping.settings import Settings, get_settings

#: The smallest k a deployment may set: below it a figure could describe two or three people.
LOWEST_MIN_COUNT = 5
#: Largest threshold searched: far beyond any useful configuration.
_MAX_THRESHOLD = 100_000


@dataclass(frozen=True)
class DisclosureParameters:
    """The parameters of a release: k, the privacy loss, the budget and the contribution bound.

    Examples
    --------
    >>> DisclosureParameters().scale
    3.0
    >>> DisclosureParameters(min_count=4)
    Traceback (most recent call last):
    ...
    mapping.errors.InvalidInputError: minimum count k = 4 is below 5: ...
    """

    #: k: a released figure never rests on fewer people than this.
    min_count: int = Settings.min_count
    #: ε of one release.
    epsilon: float = Settings.epsilon_per_release
    #: ε all releases touching one calendar quarter may spend together.
    epsilon_per_quarter: float = Settings.epsilon_per_quarter
    #: The largest total δ a release may have.
    delta: float = Settings.delta_per_release
    #: L0: the groups (districts or cells) one person counts in, per release.
    max_groups: int = Settings.max_groups_per_person
    #: Visits of one person counted per month, for visit-based measures (none is released yet).
    max_contacts: int = Settings.max_contacts_per_month

    def __post_init__(self) -> None:
        if self.min_count < LOWEST_MIN_COUNT:
            raise InvalidInputError(
                f"minimum count k = {self.min_count} is below {LOWEST_MIN_COUNT}: figures about "
                f"fewer than {LOWEST_MIN_COUNT} people could be released — set "
                f"OUTREACH_MAP_MIN_COUNT to {LOWEST_MIN_COUNT} or more (11 by default)"
            )
        if not 0 < self.epsilon <= self.epsilon_per_quarter:
            raise InvalidInputError(
                f"ε per release {self.epsilon} must be above 0 and at most the quarter's budget "
                f"{self.epsilon_per_quarter} — set OUTREACH_MAP_EPSILON_PER_RELEASE (1 by "
                "default) and OUTREACH_MAP_EPSILON_PER_QUARTER (3 by default)"
            )
        if not 0 < self.delta < 1:
            raise InvalidInputError(
                f"δ per release {self.delta} is not between 0 and 1 — set "
                "OUTREACH_MAP_DELTA_PER_RELEASE, e.g. 1e-7"
            )
        if self.max_groups < 1 or self.max_contacts < 1:
            raise InvalidInputError(
                f"contribution bounds {self.max_groups} groups and {self.max_contacts} contacts "
                "must be 1 or more — set OUTREACH_MAP_MAX_GROUPS_PER_PERSON and "
                "OUTREACH_MAP_MAX_CONTACTS_PER_MONTH"
            )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DisclosureParameters:
        """Return the parameters a deployment configured (``OUTREACH_MAP_*``)."""
        settings = settings or get_settings()
        return cls(
            min_count=settings.min_count,
            epsilon=settings.epsilon_per_release,
            epsilon_per_quarter=settings.epsilon_per_quarter,
            delta=settings.delta_per_release,
            max_groups=settings.max_groups_per_person,
            max_contacts=settings.max_contacts_per_month,
        )

    @property
    def scale(self) -> float:
        """The Laplace scale: L0 / ε, so that a person in ``max_groups`` groups costs ε."""
        return self.max_groups / self.epsilon


@dataclass(frozen=True)
class PrivacyLoss:
    """What a release may lose: OpenDP's (ε, δ), the gap γ of dropping groups under k, total δ."""

    epsilon: float
    delta_opendp: float
    gamma: float
    delta: float


def measurement(params: DisclosureParameters, threshold: int) -> Any:
    """Return OpenDP's Laplace-threshold measurement over counts keyed by group."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp.m.make_laplace_threshold(
        dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T=int)),
        dp.l01inf_distance(dp.absolute_distance(T=int)),
        scale=params.scale,
        threshold=threshold,
    )


def laplace_tail(scale: float, at_least: int) -> float:
    """Return P(Z ≥ ``at_least``) for discrete Laplace noise Z, P(z) ∝ exp(-|z| / scale).

    Examples
    --------
    >>> round(laplace_tail(3.0, 0), 4)  # P(Z ≥ 0) = 1 / (1 + e^(-1/3))
    0.5826
    """
    alpha = math.exp(-1.0 / scale)
    if at_least <= 0:
        return 1.0 - alpha ** (1 - at_least) / (1 + alpha)
    return alpha**at_least / (1 + alpha)


def privacy_loss(params: DisclosureParameters, threshold: int, groups: int) -> PrivacyLoss:
    """Return the privacy loss of a release with ``threshold`` over ``groups`` possible keys.

    OpenDP reports (ε, δ_opendp) for a neighbour that changes ``max_groups`` counts by 1 each.
    Dropping every group whose true count is under k changes the output only when such a group
    would pass the threshold, so the release is within γ = G · P(k - 1 + Z ≥ T) of OpenDP's in
    total variation and is (ε, δ_opendp + (1 + e^ε) γ)-differentially private
    (docs/disclosure.md).

    Examples
    --------
    >>> loss = privacy_loss(DisclosureParameters(), 73, 52)
    >>> loss.epsilon, loss.delta <= 1e-7
    (1.0, True)
    """
    l0 = params.max_groups
    epsilon, delta_opendp = measurement(params, threshold).map((l0, l0, 1))
    gamma = min(1.0, groups * laplace_tail(params.scale, threshold - (params.min_count - 1)))
    delta = float(delta_opendp) + (1 + math.exp(float(epsilon))) * gamma
    return PrivacyLoss(float(epsilon), float(delta_opendp), gamma, delta)


def release_threshold(params: DisclosureParameters, groups: int) -> int:
    """Return the smallest threshold T ≥ k whose total δ is at most ``params.delta``.

    Examples
    --------
    >>> release_threshold(DisclosureParameters(), 52)
    73
    """
    low = params.min_count
    if privacy_loss(params, low, groups).delta <= params.delta:
        return low
    high = low
    while privacy_loss(params, high, groups).delta > params.delta:
        high *= 2
        if high > _MAX_THRESHOLD:
            raise InvalidInputError(
                f"no threshold reaches δ = {params.delta} — raise OUTREACH_MAP_DELTA_PER_RELEASE"
            )
    while high - low > 1:  # δ falls as T rises: the smallest T that is enough
        middle = (low + high) // 2
        if privacy_loss(params, middle, groups).delta <= params.delta:
            high = middle
        else:
            low = middle
    return high
