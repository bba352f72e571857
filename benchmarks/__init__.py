"""Side-by-side benchmarks against scikit-learn and SPAMS (see BENCHMARKS.md of the project)."""
