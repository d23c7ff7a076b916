"""A short version of benchmarks/load_chat.py: 20 concurrent users, bounded in count and time."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_twenty_concurrent_users_get_cited_guarded_answers() -> None:
    spec = importlib.util.spec_from_file_location("load_chat", ROOT / "benchmarks" / "load_chat.py")
    assert spec and spec.loader
    load_chat = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load_chat)
    r = load_chat.run(users=20, per_user=1, max_seconds=240)
    assert r["errors"] == []
    assert r["answers"] == 20
