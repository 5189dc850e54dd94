"""What a check reports. No Django imports: the detectors and rules use it on their own."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import IntFlag, StrEnum


class RuleCode(StrEnum):
    """The community guidelines a finding can name (seeded as `Rule` rows by migration)."""

    PRIVACY = "privacy"
    MISINFORMATION = "misinformation"
    FAIRNESS = "fairness"
    LICENSE = "copyright-license"
    LIKENESS = "real-person-likeness"
    MINORS = "minors"
    SEXUAL_CONTENT = "sexual-content"
    MALWARE = "malware"
    SPAM = "spam"


class Severity(StrEnum):
    """What a finding does to the decision, from mildest to strongest."""

    INFO = "info"  # shown on the page, changes nothing (e.g. "credit this parent")
    HOLD = "hold"  # staff must look before it is published
    BLOCK = "block"  # quarantined; the owner is told why and may appeal

    @property
    def rank(self) -> int:
        return [Severity.INFO, Severity.HOLD, Severity.BLOCK].index(self)


@dataclass(frozen=True)
class Finding:
    """One thing a check found, in words the owner can act on, with machine-readable evidence.

    `evidence` must be JSON-serialisable (it is stored on the CheckRun row).
    """

    rule: RuleCode
    severity: Severity
    message: str
    score: float | None = None
    evidence: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """What makes two findings the same one (staff decisions and rescans go by it)."""
        return f"{self.rule}|{self.message}"

    def as_json(self) -> dict:
        data = asdict(self)
        data["rule"] = str(self.rule)
        data["severity"] = str(self.severity)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Finding:
        return cls(
            rule=RuleCode(data["rule"]),
            severity=Severity(data["severity"]),
            message=data["message"],
            score=data.get("score"),
            evidence=data.get("evidence") or {},
        )


class Level(IntFlag):
    """Content levels as bits, the same values as `models_hub.choices.NsfwLevel`."""

    PG = 1
    PG13 = 2
    R = 4
    X = 8
    XXX = 16
