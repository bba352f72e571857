"""Settings refuse unsafe values; `serve` creates a key and stores only its hash."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.serve import build_settings, ensure_api_key
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
    settings = build_settings(data_dir=tmp_path, port=9999)
    key = ensure_api_key(settings)
    assert key is not None and len(key) >= 32
    stored = (tmp_path / "api_keys").read_text()
    assert key not in stored and hash_key(key) in stored
    assert (tmp_path / "api_keys").stat().st_mode & 0o077 == 0
    assert settings.key_hashes() == {hash_key(key): "default"}
    assert ensure_api_key(settings) is None
