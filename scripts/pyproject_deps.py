"""Print the dependencies pinned in pyproject.toml, one per line (for `make lock`).

Usage: python scripts/pyproject_deps.py [extra ...]
"""

import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
lines = list(project["dependencies"])
for extra in sys.argv[1:]:
    lines += project["optional-dependencies"][extra]
print("\n".join(lines))
