"""Keeps Beam's DirectRunner from dropping elements in its parallel modes.

With ``--direct_num_workers`` above 1, the DirectRunner (Beam's ``FnApiRunner``) hands each stage's
input to its workers, and takes their output back, over gRPC data channels. apache-beam 2.74 flushes
those channels' buffers from a timer thread every second (``worker_handlers.DATA_BUFFER_TIME_LIMIT_MS``,
``data_plane.TimeBasedBufferingClosableOutputStream``): the timer thread sends the buffer, then clears
it, without the lock that would stop the writing thread from adding elements in between. Elements
written in between are cleared unsent and the stage ends without them, silently:

- ``multi_threading``: the workers' own channels flush on the timer too. A plain Beam count (``python
  -m bench.direct_modes``) lost part of a grouping's input in many of its runs.
- ``multi_processing``: the worker processes flush by size only, but the runner's channel to them
  flushes on the timer. An earlier design of the vocabulary's count lost part of a grouped input in
  some runs (docs/scaling.md).

``keep_every_element`` sets the timer off before a pipeline runs, so every channel flushes by size
and when it closes, as the worker processes' own channels and Dataflow's workers do by default. A
batch pipeline loses nothing by it: a stage's output is read only once the stage has finished.
"""

import apache_beam
from apache_beam.runners.portability.fn_api_runner import worker_handlers

# What Beam reads when it starts a DirectRunner pipeline's data channels: the runner's, and the
# multi_threading workers' (worker_handlers.py, GrpcServer and EmbeddedGrpcWorkerHandler).
_TIME_LIMIT_SETTING = "DATA_BUFFER_TIME_LIMIT_MS"


class DirectRunnerFixError(RuntimeError):
    """This Beam release no longer has the setting the fix turns off; the message says what to check."""


def keep_every_element() -> None:
    """Turns the DirectRunner's timed flushes off for the pipelines this process runs from now on.

    Raises:
      DirectRunnerFixError: when Beam no longer has the setting (a new release), so that the
        fix is looked at again instead of silently doing nothing.
    """
    if not hasattr(worker_handlers, _TIME_LIMIT_SETTING):
        raise DirectRunnerFixError(
            f"{worker_handlers.__name__} has no {_TIME_LIMIT_SETTING}: apache-beam {apache_beam.__version__} changed "
            "the DirectRunner's data channels. Fix: run `python -m bench.direct_modes --fix off` to see whether its "
            "parallel modes still lose elements, then update or remove pipeline/runners/direct_runner.py")
    setattr(worker_handlers, _TIME_LIMIT_SETTING, 0)
