"""Learning workloads of different character, for the defaults benchmark (`benchmarks.defaults`).

Each is built deterministically from bundled data or a seeded generator, normalised the way
BENCHMARKS.md normalises P1 (samples minus their own mean where that is natural, then divided
by the global standard deviation), with its dictionary size and α:

- `p1`: BENCHMARKS.md's P1, 20,000 grey 8×8 patches of china.jpg, k = 128, α = 1.
- `flower12`: 20,000 grey 12×12 patches of flower.jpg (p = 144), k = 256, α = 1: another
  image, larger patches, a twice larger dictionary.
- `sparse-recovery`: 20,000 samples of 5 atoms each of a random 96 × 48 ground-truth dictionary
  (Gaussian atoms, unit norm), coefficients ±U(1, 3), Gaussian noise σ = 0.05 per coordinate;
  k = 96, α = 0.2: a problem whose exact answer is known and a fit that must find it.
- `spectrogram`: 20,000 frames of the log-magnitude short-time spectrum (256-sample Hann
  window, hop 128: p = 129) of a synthetic piece of music (notes of a few instruments with
  harmonics, attacks and decays, over pink-ish noise), k = 64, α = 1: non-image, many
  correlated features, a small dictionary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_sample_image
from sklearn.feature_extraction.image import extract_patches_2d

from benchmarks.data import p1_patches


@dataclass(frozen=True)
class Workload:
    """A data matrix X (n, p) float64 to learn k atoms of with penalty α."""

    name: str
    X: np.ndarray
    n_components: int
    alpha: float

    @property
    def shape_line(self) -> str:
        n, p = self.X.shape
        return f"{self.name}: n {n}, p {p}, k {self.n_components}, α {self.alpha}"


def _centred_and_scaled(X: np.ndarray) -> np.ndarray:
    X = X - X.mean(axis=1, keepdims=True)
    return X / X.std()


def flower_patches(n: int = 20000, size: int = 12) -> np.ndarray:
    grey = load_sample_image("flower.jpg").mean(axis=2) / 255.0
    patches = extract_patches_2d(grey, (size, size), max_patches=n, random_state=0)
    return _centred_and_scaled(patches.reshape(n, -1).astype(np.float64))


def sparse_recovery(n: int = 20000, p: int = 48, k: int = 96, nonzeros: int = 5) -> np.ndarray:
    rng = np.random.default_rng(7)
    D = rng.standard_normal((k, p))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    H = np.zeros((n, k))
    support = np.argsort(rng.random((n, k)), axis=1)[:, :nonzeros]
    values = rng.uniform(1.0, 3.0, (n, nonzeros)) * rng.choice([-1.0, 1.0], (n, nonzeros))
    np.put_along_axis(H, support, values, axis=1)
    return H @ D + 0.05 * rng.standard_normal((n, p))


def spectrogram_frames(n: int = 20000, window: int = 256) -> np.ndarray:
    """Log-magnitude STFT frames (n, window // 2 + 1) of seeded synthetic music at 8 kHz."""
    rng = np.random.default_rng(3)
    rate, hop = 8000, window // 2
    length = (n + 1) * hop
    t = np.arange(length) / rate
    signal = np.zeros(length)
    # Instruments: harmonic amplitude profiles and decay rates.
    timbres = [(0.8 ** np.arange(8), 3.0), (0.5 ** np.arange(8), 8.0), (1 / np.arange(1, 9), 1.5)]
    onset = 0
    while onset < length:
        profile, decay = timbres[rng.integers(len(timbres))]
        f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12)  # A2 up three octaves, equal temperament
        duration = int(rate * rng.uniform(0.1, 0.8))
        stop = min(length, onset + duration)
        tau = t[: stop - onset]
        envelope = np.minimum(tau / 0.01, 1.0) * np.exp(-decay * tau)
        for h, a in enumerate(profile, start=1):
            if h * f0 < rate / 2:
                signal[onset:stop] += a * envelope * np.sin(2 * np.pi * h * f0 * tau)
        onset += int(rate * rng.uniform(0.05, 0.3))
    white = rng.standard_normal(length)
    signal += 0.05 * np.convolve(white, np.ones(8) / 8, mode="same")
    frames = np.lib.stride_tricks.sliding_window_view(signal, window)[::hop][:n]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(window), axis=1))
    return _centred_and_scaled(np.log1p(spectrum))


BUILDERS: dict[str, Callable[[], Workload]] = {
    "p1": lambda: Workload("p1", p1_patches(), 128, 1.0),
    "flower12": lambda: Workload("flower12", flower_patches(), 256, 1.0),
    "sparse-recovery": lambda: Workload("sparse-recovery", sparse_recovery(), 96, 0.2),
    "spectrogram": lambda: Workload("spectrogram", spectrogram_frames(), 64, 1.0),
}


def workload(name: str) -> Workload:
    return BUILDERS[name]()
