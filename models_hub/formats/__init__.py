"""Pure functions over file bytes: no Django imports, each module testable alone."""
