"""Settings for the fuzz tests: bounded for CI, long on request.

Profiles (hypothesis settings, registered here and applied only to tests/fuzz, never loaded
globally, so the rest of the suite keeps its own settings):

- `fuzz-ci` when `CI` is set: a fixed number of examples, the whole folder in about a minute
  on two cores;
- `fuzz-dev` otherwise: fewer examples, for `make test`;
- `fuzz-long` with `FUZZ_PROFILE=long`: `FUZZ_EXAMPLES` examples per test (default 20,000),
  failures kept in var/hypothesis-fuzz/ (git-ignored) and replayed first on the next run.

Every run uses one seed, printed at the end; `FUZZ_SEED=<seed>` repeats the run exactly.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, seed, settings
from hypothesis.database import DirectoryBasedExampleDatabase

FUZZ_DIR = Path(__file__).resolve().parent
REPO = FUZZ_DIR.parents[1]

_SHARED = {
    "deadline": None,  # the time of one example varies with its size; a deadline would flake
    "print_blob": True,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
}
settings.register_profile("fuzz-ci", max_examples=800, database=None, **_SHARED)
settings.register_profile("fuzz-dev", max_examples=60, database=None, **_SHARED)
settings.register_profile(
    "fuzz-long",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20000")),
    database=DirectoryBasedExampleDatabase(REPO / "var" / "hypothesis-fuzz"),
    **_SHARED,
)
PROFILE = "fuzz-" + (os.environ.get("FUZZ_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
# The name the tests ask for: `settings(settings.get_profile("fuzz"), ...)`.
settings.register_profile("fuzz", settings.get_profile(PROFILE))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED") or random.SystemRandom().getrandbits(32))


_seeded: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        test = getattr(item, "obj", None)
        if item.path.parent == FUZZ_DIR and hasattr(test, "hypothesis"):
            seed(FUZZ_SEED)(test)
            _seeded.append(item.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _seeded:
        terminalreporter.write_line(
            f"fuzz: profile {PROFILE}, {settings.get_profile('fuzz').max_examples} examples "
            f"per test, seed {FUZZ_SEED} (FUZZ_SEED={FUZZ_SEED} repeats this run)"
        )
