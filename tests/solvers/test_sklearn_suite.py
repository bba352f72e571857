"""scikit-learn's own dictionary-learning tests, run against the drop-ins.

The test file comes from the installed scikit-learn (nothing of it is kept in this
repository): its import of `DictionaryLearning`, `MiniBatchDictionaryLearning` and
`SparseCoder` is pointed at `solvers.sklearn_estimators`, and every case must pass. Its
function-level tests (`dict_learning`, `sparse_encode`) still run scikit-learn's functions.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sklearn

SKLEARN_TESTS = Path(sklearn.__file__).parent / "decomposition" / "tests" / "test_dict_learning.py"
IMPORT = """from sklearn.decomposition import (
    DictionaryLearning,
    MiniBatchDictionaryLearning,
    SparseCoder,
"""
OURS = """from solvers.sklearn_estimators import (
    DictionaryLearning,
    MiniBatchDictionaryLearning,
    SparseCoder,
)
from sklearn.decomposition import (
"""


def test_sklearn_dictionary_learning_suite_passes_on_the_drop_ins(tmp_path: Path) -> None:
    source = SKLEARN_TESTS.read_text()
    assert IMPORT in source, "scikit-learn's test file changed its imports"
    ported = tmp_path / "test_sklearn_dict_learning_on_solvers.py"
    ported.write_text(source.replace(IMPORT, OURS, 1))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ported)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, done.stdout[-4000:]
    assert " passed" in summary and "failed" not in summary, summary
