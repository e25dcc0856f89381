"""`oms up` with `[services.nats] cluster = 3` or `urls = [...]`: what plan_stack renders."""

from __future__ import annotations

import shutil
from pathlib import Path

from oms.cli import stack
from oms.config import load

ROOT = Path(__file__).resolve().parents[3]


def _cfg(tmp_path: Path, nats: str):
    cfg_dir = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", cfg_dir)
    text = (cfg_dir / "oms.toml").read_text()
    text = text.replace('start = ["nats", "postgres", "redis", "openbao"]', 'start = ["nats"]')
    text = text.replace("[services.nats]\n", "[services.nats]\n" + nats + "\n")
    (cfg_dir / "oms.toml").write_text(text)
    return load(cfg_dir / "oms.toml", env={})


def test_up_renders_three_nats_nodes_and_hands_programs_every_url(tmp_path: Path) -> None:
    paths = stack.StackPaths(tmp_path)
    plan = stack.plan_stack(paths, _cfg(tmp_path, "cluster = 3"), 0, "t1")
    nodes = [p for p in plan["programs"] if p.name.startswith("nats")]
    assert [p.name for p in nodes] == ["nats-1", "nats-2", "nats-3"]
    url = plan["endpoints"]["nats"]["url"]
    assert url.count("nats://127.0.0.1:") == 3
    for p in nodes:
        conf = Path(p.command[p.command.index("-c") + 1]).read_text()
        assert "cluster {" in conf and conf.count("nats-route://") == 3
    bridge = next(p for p in plan["programs"] if p.name == "bridge")
    assert bridge.command[bridge.command.index("--nats-url") + 1] == url
    text = stack.render(paths, plan)
    assert "[program:nats-3]" in text and "[program:nats]" not in text


def test_up_with_an_external_nats_starts_none(tmp_path: Path) -> None:
    plan = stack.plan_stack(
        stack.StackPaths(tmp_path),
        _cfg(tmp_path, 'urls = ["nats://10.0.0.5:4222", "nats://10.0.0.6:4222"]'),
        0,
        "t2",
    )
    assert not [p for p in plan["programs"] if p.name.startswith("nats")]
    assert plan["endpoints"]["nats"]["url"] == "nats://10.0.0.5:4222,nats://10.0.0.6:4222"
