"""Settings refuse unsafe values; `serve` creates a key and stores only its hash; `new-key` adds
another that a running app accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service import serve
from service.keys import KeyRing, create_key, ensure_default_key
from service.settings import Settings, hash_key


def test_keys_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPARSECODING_API_KEYS", "a:aaaaaaaaaaaaaaaaaaaa, b:bbbbbbbbbbbbbbbbbbbb")
    monkeypatch.setenv("SPARSECODING_WORKERS", "3")
    settings = Settings(data_dir=tmp_path)
    assert settings.workers == 3
    assert settings.key_hashes() == {
        hash_key("aaaaaaaaaaaaaaaaaaaa"): "a",
        hash_key("bbbbbbbbbbbbbbbbbbbb"): "b",
    }
    assert "aaaa" not in repr(settings)


@pytest.mark.parametrize(
    "keys",
    ["alice:short", "alice:changethis", "alice", "bad tenant:aaaaaaaaaaaaaaaaaaaa",
     "a:aaaaaaaaaaaaaaaaaaaa,b:aaaaaaaaaaaaaaaaaaaa", "a:sha256:xyz"],
)  # fmt: skip
def test_unsafe_keys_are_refused(keys: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, api_keys=keys)


def test_unsafe_limits_are_refused(tmp_path: Path) -> None:
    for bad in ({"max_upload_bytes": 0}, {"workers": 0}, {"stale_after_s": 0.5}):
        with pytest.raises(ValidationError):
            Settings(data_dir=tmp_path, **bad)  # type: ignore[arg-type]


def test_serve_creates_one_hashed_key(tmp_path: Path) -> None:
    settings = serve.build_settings(data_dir=tmp_path, port=9999)
    key = ensure_default_key(settings)
    assert key is not None and len(key) >= 32
    stored = (tmp_path / "api_keys").read_text()
    assert key not in stored and hash_key(key) in stored
    assert (tmp_path / "api_keys").stat().st_mode & 0o077 == 0
    assert settings.key_hashes() == {hash_key(key): "default"}
    assert ensure_default_key(settings) is None


def test_new_keys_are_appended_and_a_running_app_accepts_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = serve.build_settings(data_dir=tmp_path)
    first = ensure_default_key(settings)
    assert first is not None
    keys = KeyRing(settings)
    assert keys.tenant(first) == "default"
    second = create_key(settings.keys_file, "bob")
    lines = settings.keys_file.read_text().splitlines()[1:]
    assert [line.split(":")[0] for line in lines] == ["default", "bob"]
    assert keys.tenant(second) == "bob" and keys.tenant(first) == "default"  # at once
    settings.keys_file.write_text(settings.keys_file.read_text().replace("default:", "#"))
    monkeypatch.setattr("service.keys.RECHECK_S", 0.0)
    assert keys.tenant(first) is None  # a key removed from the file stops working
    stored = settings.keys_file.read_text()
    assert first not in stored and second not in stored


def test_a_keys_file_that_stops_parsing_keeps_the_keys_read_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = serve.build_settings(data_dir=tmp_path)
    key = ensure_default_key(settings)
    assert key is not None
    keys = KeyRing(settings)
    monkeypatch.setattr("service.keys.RECHECK_S", 0.0)
    with open(settings.keys_file, "a") as f:
        f.write("not a key line\n")
    assert keys.tenant(key) == "default"


def test_a_weak_or_shared_metrics_key_is_refused(tmp_path: Path) -> None:
    for bad in ("short", "a" * 15):
        with pytest.raises(ValidationError, match="METRICS_KEY is unsafe"):
            Settings(data_dir=tmp_path, metrics_key=bad)
    shared = "alice-key-0123456789abcdef"
    with pytest.raises(ValidationError, match="must not be a tenant's API key"):
        Settings(data_dir=tmp_path, api_keys=f"alice:{shared}", metrics_key=shared)
