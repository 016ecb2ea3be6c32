"""Installing packages into the root and reading its rpm database (dnf and rpm bindings)."""
