"""Every command and example of README.md and docs/*.md, run as it is written.

Each fenced code block of those files follows a marker that says how it is checked:

    <!-- doc-test: install -->    the README's two commands for a fresh machine (the first is
                                  run for real; the second must be what .ci/run runs)
    <!-- doc-test: offline -->    shell or Python, run in a scratch directory
    <!-- doc-test: service -->    shell or Python, run against a `sparsecoding serve` this test
                                  starts (KEY is its key, METRICS_KEY its operator's key,
                                  127.0.0.1:8000 its address); `ds_…`,
                                  `job_…` and `mdl_…` stand for the ids the session printed last
    <!-- doc-test: synopsis -->   usage lines: each command's --help must list every flag shown
    <!-- doc-test: signature -->  the library's signatures: names and defaults must be the code's
    <!-- doc-test: output -->     what a command prints; not run
    <!-- doc-test: skip: WHY -->  not runnable here, and why

Blocks of one document run in order, in one scratch directory (a file an earlier example wrote
is there for a later one); `npm` commands run in the repository, whose package they build.
Inline commands of the prose (`sparsecoding …`, `python -m …`) are
checked like synopses.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))

from server_process import Server, free_port
from service_testing import METRICS_KEY

import solvers

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
KINDS = {"install", "offline", "service", "synopsis", "signature", "output", "skip"}
MARKER = re.compile(r"^<!-- doc-test: (?P<kind>[a-z]+)(?::\s*(?P<why>.+?))? -->$")
IDS = re.compile(r"\b(ds|job|mdl)_[0-9a-f]{32}\b")
VENV_BIN = Path(sys.executable).parent
COMMAND_WORDS = ("sparsecoding", "python", "curl", "PYTHONPATH", ".venv/", "export", "npm", "pip")


@dataclasses.dataclass(frozen=True)
class Block:
    doc: Path
    line: int
    kind: str
    why: str | None
    lang: str
    text: str

    def __str__(self) -> str:
        return f"{self.doc.name}:{self.line}"


def code_blocks(doc: Path) -> list[Block]:
    """The fenced blocks of `doc`, with the marker on the line before each (kind "" if none)."""
    lines = doc.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].startswith("```"):
            lang, start = lines[i][3:].strip(), i
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            marker = MARKER.match(lines[i - 1]) if i else None
            kind, why = (marker["kind"], marker["why"]) if marker else ("", None)
            blocks.append(Block(doc, start + 1, kind, why, lang, "\n".join(lines[i + 1 : end])))
            i = end
        i += 1
    return blocks


def _documents() -> list[pytest.param]:  # type: ignore[valid-type]
    return [pytest.param(doc, id=doc.name) for doc in DOCUMENTS]


@pytest.mark.parametrize("doc", _documents())
def test_every_code_block_says_how_it_is_checked(doc: Path) -> None:
    for block in code_blocks(doc):
        assert block.kind in KINDS, f"{block}: a code block without a doc-test marker"
        assert block.kind != "skip" or block.why, f"{block}: a skipped block says why"
    # a command in an indented block would escape these checks: commands go in fenced blocks
    in_fence = False
    for number, line in enumerate(doc.read_text().splitlines(), start=1):
        in_fence ^= line.startswith("```")
        if not in_fence and line.startswith("    ") and line.strip().startswith(COMMAND_WORDS):
            pytest.fail(f"{doc.name}:{number}: an indented command; fence it with a marker")


# -- the two commands for a fresh machine -----------------------------------------------------


def _install_blocks() -> list[str]:
    blocks = [b for b in code_blocks(REPO / "README.md") if b.kind == "install"]
    assert len(blocks) == 2, "the README gives two commands for a fresh machine"
    return [b.text.strip() for b in blocks]


def test_ci_runs_the_readmes_test_command() -> None:
    """One line of .ci/run is the README's test command; after it comes only the container
    step (scripts/compose-test, docs/deployment.md)."""
    lines = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert _install_blocks()[1] in lines
    after = lines[lines.index(_install_blocks()[1]) + 1 :]
    assert [line for line in after if not line.startswith("#")] == [
        "timeout -k 30 600 scripts/compose-test"
    ]


@pytest.mark.slow
def test_the_first_command_installs_what_the_readme_shows_and_starts_the_service(
    tmp_path: Path,
) -> None:
    """Run as written, in the repository, with the port and data directory moved out of the
    way through the documented SPARSECODING_* variables: it installs the library, the service,
    the command line and the SDK, and the service starts and stops cleanly."""
    if VENV_BIN != REPO / ".venv" / "bin":
        pytest.skip(f"the tests run from {VENV_BIN}, not the README's .venv: not reinstalled")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARSECODING_")}
    env |= {"SPARSECODING_PORT": str(port), "SPARSECODING_DATA_DIR": str(tmp_path / "data")}
    log = tmp_path / "first-command.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["bash", "-c", _install_blocks()[0]], cwd=REPO, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while not _answers(f"http://127.0.0.1:{port}/healthz"):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        printed = log.read_text()
        assert f"sparsecoding service on http://127.0.0.1:{port}" in printed, printed
        assert "API key for tenant 'default'" in printed and str(tmp_path / "data") in printed
        imports = "import solvers, service, sparsecoding_sdk, sparsecoding_client"
        done = subprocess.run([str(VENV_BIN / "python"), "-c", imports], capture_output=True)
        assert done.returncode == 0, done.stderr
        assert (VENV_BIN / "sparsecoding").exists()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(60)
    assert code == 128 + signal.SIGINT and "Traceback" not in log.read_text(), log.read_text()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


# -- examples, offline and against a running service ------------------------------------------


class Session:
    """One document's runnable blocks, in order, in one scratch directory; a service started
    on first need. Ids printed by earlier commands fill the `ds_…`-style placeholders."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.server: Server | None = None
        self.key = ""
        self.ids: dict[str, str] = {}
        # curl exits 22 on an HTTP error (body still shown) instead of 0: a wrong path or a
        # refused request in a documented curl command fails its test
        (scratch / ".curlrc").write_text("fail-with-body\n")
        for name in ("benchmarks", "scripts"):  # paths the examples name
            (scratch / name).symlink_to(REPO / name)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPARSECODING_")}
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"  # an active venv
        env["VIRTUAL_ENV"] = str(VENV_BIN.parent)
        env["CURL_HOME"] = str(self.scratch)
        if self.server is not None:
            env["KEY"] = self.key
            env["METRICS_KEY"] = METRICS_KEY
        return env

    def start_service(self) -> None:
        if self.server is None:
            self.server = Server(
                self.scratch / "service-data", {"SPARSECODING_METRICS_KEY": METRICS_KEY}
            )
            self.key = self.server.printed_key(self.server.start())

    def fill(self, text: str) -> str:
        if self.server is not None:
            text = text.replace("127.0.0.1:8000", f"127.0.0.1:{self.server.port}")
        for prefix, value in self.ids.items():
            text = text.replace(f"{prefix}_…", value)
        return text

    def remember(self, output: str) -> None:
        for match in IDS.finditer(output):
            self.ids[match[1]] = match[0]

    def run(self, block: Block) -> None:
        if block.kind == "service":
            self.start_service()
        if block.lang == "python":
            self._python(block)
        elif block.lang == "sh":
            for command, setup in _shell_commands(block.text):
                self._shell(block, command, setup)
        else:
            pytest.fail(f"{block}: a runnable block in {block.lang!r}, not sh or python")

    def _python(self, block: Block) -> None:
        prelude = "import os\nKEY = os.environ.get('KEY', '')\n"
        done = subprocess.run(
            [sys.executable, "-c", prelude + self.fill(block.text)], cwd=self.scratch,
            env=self.env(), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, f"{block}:\n{done.stdout[-3000:]}{done.stderr[-5000:]}"
        self.remember(done.stdout)

    def _shell(self, block: Block, command: str, setup: list[str]) -> None:
        where = self.scratch
        if command.startswith("npm "):
            if not _has_node():
                return  # tests/sdk/test_typescript_client.py says so once
            where = REPO  # it builds the repository's own package (npm refuses a symlink)
        script = "\n".join(["set -o pipefail", *map(self.fill, setup), self.fill(command)])
        done = subprocess.run(
            ["bash", "-c", script], cwd=where, env=self.env(),
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        output = done.stdout + done.stderr
        expected_error = re.search(r"#.*\b4\d\d\b", command)  # "…; 409 once it has finished"
        if expected_error and done.returncode == 22:  # curl's exit status for an HTTP error
            assert "urn:sparsecoding:problem:" in done.stdout, output
        else:
            assert done.returncode == 0, f"{block}: {command}\n{output[-5000:]}"
        self.remember(output)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def _has_node() -> bool:
    import shutil

    return shutil.which("node") is not None and shutil.which("npm") is not None


def _shell_commands(text: str) -> Iterator[tuple[str, list[str]]]:
    """(command, the variable settings before it) of a shell block; continuation lines are
    joined, comments and blank lines skipped. Settings (`A=…; B=…`, `export …`) run too."""
    lines, current = [], ""
    for raw in text.splitlines():
        current += raw.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip() and not current.lstrip().startswith("#"):
            lines.append(current.strip())
        current = ""
    setup: list[str] = []
    for line in lines:
        yield line, list(setup)
        if _is_setting(line):
            setup.append(line)


def _is_setting(line: str) -> bool:
    words = shlex.split(line.split("#")[0].replace(";", " "))
    return bool(words) and all(w == "export" or re.match(r"^[A-Z_]+=", w) for w in words)


@pytest.mark.slow
@pytest.mark.parametrize("doc", _documents())
def test_examples_run_as_written(doc: Path, tmp_path: Path) -> None:
    runnable = [b for b in code_blocks(doc) if b.kind in ("offline", "service")]
    if not runnable:
        pytest.skip(f"{doc.name} has no runnable example")
    session = Session(tmp_path)
    try:
        for block in runnable:
            session.run(block)
    finally:
        session.close()


# -- synopses, inline commands and signatures -------------------------------------------------

INLINE = re.compile(r"`((?:\.venv/bin/)?sparsecoding [^`]+|python -m [^`]+|scripts/[\w-]+)`")
PLACEHOLDER = re.compile(r"<[^>]+>|…")


def _synopses(doc: Path) -> Iterator[tuple[str, str]]:
    """(where, command line) of every synopsis line and inline command of `doc`."""
    for block in code_blocks(doc):
        if block.kind == "synopsis":
            for line in re.sub(r"\n\s+\[", " [", block.text).splitlines():
                yield str(block), line.split("  #")[0].strip()
    for number, line in enumerate(doc.read_text().splitlines(), start=1):
        for match in INLINE.finditer(line):
            yield f"{doc.name}:{number}", match[1]


def _help_of(words: list[str]) -> str:
    """The --help of the command a synopsis names (a module, or a sparsecoding subcommand)."""
    if words[0].endswith("python"):
        command = [sys.executable, "-m", words[2]]
        rest = words[3:]
    else:
        command = [str(VENV_BIN / "sparsecoding")]
        rest = words[1:]
        if rest and not rest[0].startswith(("-", "[")):
            command.append(rest[0])
    done = subprocess.run(
        [*command, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, f"{' '.join(command)} --help:\n{done.stderr[-2000:]}"
    return done.stdout


@pytest.mark.parametrize("doc", _documents())
def test_synopses_and_inline_commands_name_real_commands_and_flags(doc: Path) -> None:
    checked: dict[str, str] = {}
    for where, line in _synopses(doc):
        if line.startswith("scripts/"):
            assert os.access(REPO / line.split()[0], os.X_OK), f"{where}: {line}"
            continue
        words = [w for w in shlex.split(line) if not re.match(r"^[A-Z_]+=", w)]  # PYTHONPATH=.
        name = words[:3] if words[0].endswith("python") else words[:2]
        if any(PLACEHOLDER.search(w) for w in name):
            continue  # a placeholder names the command (`benchmarks.<name>`)
        key = " ".join(name)
        if key not in checked:
            checked[key] = _help_of(words)
        arguments = line.split(name[-1], 1)[1]  # what follows the command's name
        for flag in re.findall(r"(?<![\w-])(--[a-z][\w-]*|-[a-z])\b", arguments):
            assert flag in checked[key], f"{where}: {flag} is not an option of `{line}`"


def _signature_defaults(text: str, function: str) -> dict[str, str]:
    """{keyword: default as written} of `function(...)` in a signature block (a default given as
    alternatives, "a"|"b", is its first)."""
    start = text.index(function + "(")
    depth, end = 0, start
    for end in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[end], 0)
        if depth == 0 and text[end] == ")":
            break
    inside = text[start + len(function) + 1 : end]
    return {
        name: value.split("|")[0]
        for name, value in re.findall(
            r"(\w+)=((?:\"[^\"]*\"(?:\|\"[^\"]*\")*|[^,\s|]+)(?:\|\w+)*)", inside
        )
    }


def test_the_readmes_library_signatures_are_the_codes() -> None:
    block = next(b for b in code_blocks(REPO / "README.md") if b.kind == "signature")
    fit = _signature_defaults(block.text, "solvers.fit")
    fit_params = inspect.signature(solvers.fit).parameters
    for name, written in fit.items():
        if name in fit_params:
            actual = fit_params[name].default
        else:
            assert name in solvers.FitOptions.__dataclass_fields__, f"fit has no option {name}"
            actual = getattr(solvers.DEFAULTS, name)
        assert ast.literal_eval(written) == actual, f"solvers.fit {name}={written}, not {actual!r}"
    missing = set(solvers.FitOptions.__dataclass_fields__) - set(fit)
    assert not missing, f"README's solvers.fit lacks {sorted(missing)}"
    encode_params = inspect.signature(solvers.encode).parameters
    for name, written in _signature_defaults(block.text, "solvers.encode").items():
        assert name in encode_params, f"solvers.encode has no parameter {name}"
        assert ast.literal_eval(written) == encode_params[name].default, name
