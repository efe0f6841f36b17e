"""How many workers (threads of the statistics pass, processes rendering the site) a build uses."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

from .errors import SurveyEngineError


def worker_count() -> int:
    """``SURVEYENGINE_JOBS`` when set (``1``: the build works alone), else one per core this process may use."""
    setting = os.environ.get("SURVEYENGINE_JOBS", "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise SurveyEngineError(f"SURVEYENGINE_JOBS must be a whole number of processes, not {setting!r}")
        return int(setting)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def in_background(compute: Callable[[], bytes]) -> Callable[[], bytes]:
    """``compute`` run in a forked process while this one goes on; the returned function waits for its bytes.

    For pure-Python work that holds the interpreter while numpy work that could share the cores waits (the
    replicate groups' MD5 of every respondent id during the statistics pass). The child must touch no
    library whose threads may hold a lock at the fork (BLAS, Arrow): give it plain Python objects. Where the
    system cannot fork, or one worker is asked for, ``compute`` runs here, at once; if the child fails, it
    runs here again, so its error surfaces in this process.
    """
    if not hasattr(os, "fork") or worker_count() == 1:
        result = compute()
        return lambda: result
    reader, writer = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork with threads (see above)
        pid = os.fork()
    if pid == 0:
        import gc

        gc.disable()  # a short life that makes no garbage: the collector would only walk the parent's heap
        os.close(reader)
        status = 0
        try:
            data = compute()
            with os.fdopen(writer, "wb") as pipe:
                pipe.write(data)
        except BaseException:
            status = 1
        os._exit(status)
    os.close(writer)

    def wait() -> bytes:
        with os.fdopen(reader, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        return data if status == 0 else compute()

    return wait
