"""The one check of a matrix's values: finite, and small enough for the fit's arithmetic.

A matrix is fed in blocks, in order, so that a file, a stream or a memory map is checked with a
block of memory whatever its size. Two things make data unusable:

- NaN or Inf: the problem names their count and the first position;
- values so large that ‖X‖²_F, the scale of the objective, overflows (or nearly overflows) the
  working dtype: every quantity of a fit — ‖X − HW‖², ⟨X, HW⟩, the code Gram HᵀH — is a small
  multiple of it, so each would come out Inf or NaN (codes of zero, an objective of null). The
  check keeps OVERFLOW_HEADROOM of room below the dtype's largest value for those multiples.
"""

from __future__ import annotations

import numpy as np

# ‖X‖²_F must stay below the dtype's largest value divided by this.
OVERFLOW_HEADROOM = 16.0


class ValueScan:
    """Counts of one matrix's values, fed block by block in the order of their flat positions.

    `add` takes any array of the working dtype (float32 or float64); its values continue the
    flat positions of the blocks before it (C order of each block's own elements).
    """

    def __init__(self) -> None:
        self.done = 0  # values seen
        self.bad_count = 0  # NaN or Inf
        self.first_bad = -1  # flat position of the first one
        self.first_bad_value = 0.0
        self.sum_sq = 0.0  # of the finite blocks; Inf once it overflows
        self.largest = 0.0  # magnitude
        self.dtype: np.dtype | None = None

    def add(self, block: np.ndarray) -> None:
        flat = block.reshape(-1)
        if flat.size == 0:
            return
        self.dtype = flat.dtype
        with np.errstate(over="ignore", invalid="ignore"):
            # einsum's own loop, not BLAS: a multi-threaded BLAS dot leaves its threads
            # spinning for a while, on the cores the fit's kernels start on next (measured:
            # encoding P1 took 0.125 s after the scan's np.dot, 0.100 s without it)
            block_sq = float(np.einsum("i,i->", flat, flat))
        # A finite sum of squares has only finite terms: the count of NaN and Inf (a pass and a
        # mask) is needed only when the sum is not finite, or after a block that had some.
        if not np.isfinite(block_sq) or self.bad_count:
            bad = ~np.isfinite(flat)
            count = int(np.count_nonzero(bad))
            if count and self.first_bad < 0:
                at = int(np.argmax(bad))
                self.first_bad, self.first_bad_value = self.done + at, float(flat[at])
            self.bad_count += count
        if not self.bad_count:  # magnitudes matter only for finite data
            self.sum_sq += block_sq
            self.largest = max(self.largest, abs(float(flat.max())), abs(float(flat.min())))
        self.done += flat.size

    def problem(self, name: str, shape: tuple[int, ...], fortran_order: bool = False) -> str | None:
        """What makes the scanned matrix of `shape` unusable, or None. `fortran_order`: the
        flat positions were fed in Fortran order (a `.npy` file's)."""
        if self.bad_count:
            row, col = np.unravel_index(self.first_bad, shape, order="F" if fortran_order else "C")
            return (
                f"{name} contains {self.bad_count} NaN or Inf value(s); the first is "
                f"{self.first_bad_value} at row {row}, column {col}"
            )
        if self.dtype is None:
            return None
        room = float(np.finfo(self.dtype).max) / OVERFLOW_HEADROOM
        if not self.sum_sq < room:
            return (
                f"{name} is too large in magnitude for {self.dtype}: the sum of its squared "
                f"values (the objective's scale) is {self.sum_sq:.3g}, over {room:.3g}, so the "
                f"fit's arithmetic would overflow; its largest magnitude is {self.largest:.3g}. "
                f"Scale the data down (e.g. divide it by its largest magnitude)"
            )
        return None
