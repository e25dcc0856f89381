"""Deploy room test helpers: the offline validators `make install` puts in .venv/tools (hadolint,
kubernetes-validate, checkov) and a YAML reader (PyYAML lives in that venv, not in the OMS's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
TOOLS = Path(sys.prefix) / "tools" / "bin"
K8S = ROOT / "deploy" / "k8s"


def tool(name: str) -> str:
    path = TOOLS / name
    if not path.exists():
        pytest.fail(
            f"{path} missing: `make install` (target deploy-tools) installs hadolint, "
            "kubernetes-validate and checkov"
        )
    return str(path)


def run(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))


def yaml_docs(path: Path) -> list[Any]:
    """Every YAML document of `path` as plain data (read by the tools venv's PyYAML)."""
    code = "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))"
    r = run(tool("python"), "-c", code, str(path))
    assert r.returncode == 0, r.stderr
    return [d for d in json.loads(r.stdout) if d is not None]


def checkov(
    *files: Path, frameworks: tuple[str, ...] = ("kubernetes", "dockerfile")
) -> dict[str, dict[str, Any]]:
    """checkov's JSON report per framework (offline: --skip-download)."""
    argv = [
        tool("checkov"),
        "--framework",
        *frameworks,
        "--compact",
        "--quiet",
        "--skip-download",
        "-o",
        "json",
    ]
    for f in files:
        argv += ["-f", str(f)]
    r = run(*argv)
    out = json.loads(r.stdout)
    reports = out if isinstance(out, list) else [out]
    return {rep["check_type"]: rep for rep in reports if "check_type" in rep}
