"""Upstream's ``imgcreate.util``: ``call`` and ``rcall``, the two command helpers its creators and scripts use.

Both run through :func:`imgcreate.host.run.run`, the one command runner: the command is logged with its exact
command line, runs in a session of its own (stopped with everything it started if the wait is cut short) and
with a clean environment (PATH only, so the host's locale and variables do not change what a tool prints),
plus the variables a caller gives.  Upstream's meaning is kept: ``call`` returns the exit status and sends the
output to the debug log; ``rcall`` returns ``(stdout, stderr, returncode)`` as text and raises
:class:`~imgcreate.errors.CreatorError` when the command fails, unless told not to.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from imgcreate.errors import CreatorError, MissingToolError
from imgcreate.host.run import clean_env, run

_CALL_KEYWORDS = frozenset({"args", "cwd", "env"})


def _argv(args: object) -> list[str]:
    """A command as a list of words: upstream's callers pass a list (a string is one word, as in Popen)."""
    if isinstance(args, (str, bytes, os.PathLike)):
        return [os.fsdecode(args)]
    if isinstance(args, Sequence):
        return [os.fsdecode(a) for a in args]
    raise TypeError(f"a command is a list of words, not {type(args).__name__}")


def _environment(env: Mapping[str, str] | None) -> dict[str, str]:
    return {**clean_env(), **(env or {})}


def call(*popenargs: object, **kwargs: object) -> int:
    """Run a command (a list of words, as ``subprocess.Popen`` takes it) and return its exit status; its output
    goes to the debug log.  Upstream's keywords ``cwd`` and ``env`` are taken (``env`` adds to the clean
    environment); others of Popen's are refused with TypeError rather than silently ignored.

    A command that is not installed raises FileNotFoundError, as Popen does there, with the package to install.
    """
    unknown = sorted(set(kwargs) - _CALL_KEYWORDS)
    if unknown:
        raise TypeError(f"call() does not take {', '.join(unknown)} (only args, cwd, env)")
    if popenargs:
        command = popenargs[0]
    elif "args" in kwargs:
        command = kwargs["args"]
    else:
        raise TypeError("call() needs the command")
    cwd = kwargs.get("cwd")
    env = kwargs.get("env")
    try:
        return run(_argv(command), check=False, cwd=os.fsdecode(cwd) if isinstance(cwd, (str, os.PathLike)) else None,
                   env=_environment(env if isinstance(env, Mapping) else None)).returncode
    except MissingToolError as exc:
        raise FileNotFoundError(str(exc)) from exc


def rcall(args: Sequence[str], stdin: str = "", raise_err: bool = True, cwd: str | None = None,
          env: Mapping[str, str] | None = None) -> tuple[str, str, int]:
    """Run *args* with *stdin* as its input; ``(stdout, stderr, returncode)``, the output as text.

    With *raise_err* a command that fails (or cannot be run) raises CreatorError naming it, its output and its
    exit status; without, the failure is only in the result (a command that cannot be run gives returncode
    127 and the reason as stderr).  *env* adds to the clean environment.
    """
    argv = _argv(args)
    try:
        res = run(argv, check=False, input=stdin, cwd=cwd, env=_environment(env), apart=True)
    except MissingToolError as exc:
        if raise_err:
            raise CreatorError(f"Failed executing:\n{argv}\nerror: {exc}") from exc
        return "", str(exc), 127
    out, err = res.stdout, res.stderr or ""
    if res.returncode != 0 and raise_err:
        raise CreatorError(f"Error in call:\n{argv}\nstdout: {out}\nstderr: {err}\nreturncode: {res.returncode}")
    return out, err, res.returncode
