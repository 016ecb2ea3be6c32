"""The build's sequence, its build directory, incremental reuse, and the files delivered with it."""
