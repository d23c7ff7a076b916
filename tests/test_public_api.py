"""ui.py and evals/ are thin layers: they may import only the public face of `qa`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import qa
from tests.conftest import ROOT

LAYERS = [ROOT / "ui.py", *sorted((ROOT / "evals").glob("*.py"))]
# The scale benchmark measures internals on purpose; it is a script, not a layer over the API.
EXEMPT = {"bench_scale.py"}


def qa_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (node.module == "qa" or node.module.startswith("qa.")):
            if node.module != "qa":
                bad.append(f"from {node.module} import ...")
            else:
                bad.extend(a.name for a in node.names if a.name not in qa.__all__)
        elif isinstance(node, ast.Import):
            bad.extend(a.name for a in node.names if a.name.startswith("qa."))
    return bad


@pytest.mark.parametrize("path", [p for p in LAYERS if p.exists() and p.name not in EXEMPT], ids=lambda p: p.name)
def test_layer_uses_only_the_public_api(path: Path) -> None:
    assert qa_imports(path) == []


def test_the_check_catches_a_private_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from qa.index import VectorIndex\nfrom qa import Assistant, _private\nimport qa.cite\n")
    assert qa_imports(bad) == ["from qa.index import ...", "_private", "qa.cite"]


def test_public_face() -> None:
    assert {"Assistant", "Answer", "Citation", "SafetyNotice", "Settings", "QAError"} <= set(qa.__all__)
    for name in qa.__all__:
        assert hasattr(qa, name)
