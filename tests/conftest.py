"""Shared test set-up: every test writes its cache to a fresh folder, never the user's."""

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYLAB_CACHE", str(tmp_path / "cache"))
