"""What the defaults `mode="auto"` and `batch_size=None` become for a given problem.

The rule, measured with `python -m benchmarks.defaults` on natural-image patches (8×8 with
k = 128, 12×12 with k = 256), a synthetic sparse-recovery set and spectrogram frames, n from
2,000 to 20,000 (docs/benchmarks.md):

- mini-batches of 8·k rows on the CPU, at least 256 and at most max(1024, k), never more than
  n. Measured at equal time (limits of 1 to 3 s, 4 to 6 seeds): spectrogram frames (k = 64)
  reached lower F with 512 or 256 than with 1024, the sparse-recovery set (k = 96) its answer
  sooner with 768 than with 1024 (F 1.94 against 2.57 at 1 s), P1 (k = 128) soonest with 1024
  of 256 to 4096, 12×12 patches (k = 256) with 1024 rather than 2048. Smaller mini-batches give
  more dictionary updates per epoch and noisier ones, which here also led to better local
  minima. (8 rows per atom is also where the online statistics' memory starts.)
  Past k = 1024, at least k rows keep the dictionary step (about k²·p per mini-batch, against
  b·k·p for coding it) under half of a step. On a GPU (unmeasured there so far), max(8192, k):
  its code step is launch-bound for small batches, and 8192 is what the P2 prototype of
  BENCHMARKS.md used.
- online mode, unless one mini-batch would hold all the data: then an epoch is one batch
  iteration, and batch mode does the same work with an exact dictionary step and a stop at
  convergence. Online fits with mini-batches of 1024 were as good as batch fits or better
  from n = 2,000 upwards on P1 (k = 128), and far better at n = 20,000.

The dtype and the time limit do not change the choice: online fits are fast to a given F at
every budget measured, and the cost per row of the code step is the same in both precisions.
"""

from __future__ import annotations

from .options import FitOptions, Mode

ROWS_PER_ATOM = 8
CPU_BATCH_RANGE = (256, 1024)  # before the "at least k rows" of large dictionaries
GPU_BATCH_SIZE = 8192


def auto_batch_size(n_samples: int, n_components: int, gpu: bool) -> int:
    """Mini-batch rows for an online fit of n_samples rows and n_components atoms."""
    if gpu:
        rows = max(GPU_BATCH_SIZE, n_components)
    else:
        low, high = CPU_BATCH_RANGE
        rows = min(max(ROWS_PER_ATOM * n_components, low), max(high, n_components))
    return max(1, min(n_samples, rows))


def auto_mode(n_samples: int, batch_size: int) -> Mode:
    """ "online", or "batch" when one mini-batch of `batch_size` rows holds every sample."""
    return "batch" if n_samples <= batch_size else "online"


def resolve_options(
    options: FitOptions, n_samples: int, n_components: int, gpu: bool
) -> FitOptions:
    """`options` with mode "auto" and batch_size None replaced by the rule's choice; values
    given explicitly are kept as they are."""
    batch_size = options.batch_size
    if batch_size is None:
        batch_size = auto_batch_size(n_samples, n_components, gpu)
    mode: Mode = options.mode
    if mode == "auto":
        mode = auto_mode(n_samples, batch_size)
    return options.replace(mode=mode, batch_size=batch_size)
