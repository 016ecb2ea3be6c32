"""The install root: where it lives, and every path inside it touched without leaving it."""
