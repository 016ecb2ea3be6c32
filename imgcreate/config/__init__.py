"""The build configuration: one frozen snapshot of a creator's settings, taken at ``mount()``.

:mod:`imgcreate.config.model` says what a build is configured with (enums for every mode, each field marking
whether it shapes the finished root, from which the incremental cache key is derived); :mod:`.parse` makes one
from the values users set (constructor keywords and attributes, as upstream's API has them), checked once.
"""
