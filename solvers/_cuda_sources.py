"""CUDA C++ source of the GPU's fused kernels, as text: `backends` compiles it with CuPy.

The dictionary step's block coordinate descent (`dictionary.update_dictionary`) visits the k
atoms in order, each update using the ones before it, so a pass cannot be split over blocks:
written as CuPy operations it was about 13 launches per atom (6,600 per pass at k = 512, paid
per mini-batch online). Here one launch runs a whole pass in one thread block: thread t owns
the features f ≡ t (mod blockDim) of every atom, so W's columns never cross threads and the
only exchange is the block reduction of ‖W_j‖² for the projection on the unit ball.
"""

from __future__ import annotations

BCD_PASS = r"""
extern "C" __global__ void sparsecoding_bcd_pass_{name}(
    const {T}* A, const {T}* B, {T}* W, const bool* used, const {T}* denominator,
    const {T} ridge, const int positive, const int constrained, const int k, const int p)
{{
    extern __shared__ unsigned char shared[];
    {T}* partial = reinterpret_cast<{T}*>(shared);
    for (int j = 0; j < k; ++j) {{
        {T} squares = 0;
        for (int f = threadIdx.x; f < p; f += blockDim.x) {{
            // u = W_j + (B_j − A_j W − λ W_j) / (A_jj + λ), this thread's features of it
            {T} dot = 0;
            for (int i = 0; i < k; ++i) dot += A[j * k + i] * W[i * p + f];
            const {T} old = W[j * p + f];
            {T} atom = used[j] ? old + (B[j * p + f] - dot - ridge * old) / denominator[j] : old;
            if (positive && atom < 0) atom = 0;
            W[j * p + f] = atom;
            squares += atom * atom;
        }}
        if (constrained) {{
            partial[threadIdx.x] = squares;
            __syncthreads();
            for (int half = blockDim.x / 2; half > 0; half /= 2) {{
                if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
                __syncthreads();
            }}
            const {T} norm = sqrt(partial[0]);
            __syncthreads();  // every thread has read the sum before the next atom's
            if (norm > 1) {{
                for (int f = threadIdx.x; f < p; f += blockDim.x) W[j * p + f] /= norm;
            }}
        }}
    }}
}}
"""


def bcd_pass_source(c_type: str) -> tuple[str, str]:
    """(source, kernel name) of the pass for `c_type` ("float" or "double")."""
    name = {"float": "f32", "double": "f64"}[c_type]
    return BCD_PASS.format(T=c_type, name=name), f"sparsecoding_bcd_pass_{name}"
