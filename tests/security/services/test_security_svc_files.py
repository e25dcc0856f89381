"""Security (services/CLI rooms): the OpenBao dev token and every rendered config stay private to us.

`oms up`'s own pieces are used for real: `prepare_var` (umask 077, var/ dirs 0700), the services'
supervisord programs, `render` and `write_private` (configs 0600 from creation), and supervisord itself
(daemonized, as `oms up` runs it, with umask=077 from the template) running the OpenBao dev server. The
attack is another user (`nobody`) reading the files, made with setpriv.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from oms.cli import stack
from oms.credentials import write_private
from oms.services.settings import Settings as ServicesSettings
from oms.testing import eventually

SETPRIV = shutil.which("setpriv")


def _as_nobody_can_read(path: Path) -> bool:
    r = subprocess.run(
        [str(SETPRIV), "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", str(path)],
        capture_output=True,
        timeout=10,
    )
    return r.returncode == 0


class _Cfg:
    def section(self, name: str) -> object:
        assert name == "services"
        return ServicesSettings(start=["openbao"])


@pytest.mark.skipif(
    os.geteuid() != 0 or SETPRIV is None, reason="needs root and setpriv to act as another user"
)
def test_openbao_log_and_configs_are_unreadable_by_another_user() -> None:
    # a root `nobody` can reach (pytest's tmp root is 0700): only our own modes stand in its way
    tmp_path = Path(tempfile.mkdtemp(prefix="oms-secfiles-"))
    os.chmod(tmp_path, 0o755)
    (tmp_path / "root").mkdir(mode=0o755)
    paths = stack.StackPaths(tmp_path / "root")
    old = os.umask(0o022)
    try:
        stack.prepare_var(paths)
    finally:
        os.umask(old)  # supervisord below starts with a 022 umask: its config must tighten it
    progs, objs = stack._service_programs(paths, _Cfg())
    write_private(paths.conf, stack.render(paths, {"programs": progs, "cores": [0]}))
    stack.start_supervisord(paths)  # from this process's 022 umask, as a user's shell might have
    bao = objs["openbao"]
    try:
        eventually(bao.healthy, 60, message="openbao under supervisord")
        log = paths.log / "openbao.log"
        eventually(lambda: log.exists() and log.stat().st_size > 0, 10)
        for d in (paths.var, paths.run, paths.log, paths.data, paths.var / "secrets"):
            assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
        for f in (paths.conf, log, paths.log / "supervisord.log"):
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        assert bao.root_token in paths.conf.read_text()  # the config does hold the token ...
        for f in (paths.conf, log, paths.log / "supervisord.log"):
            assert not _as_nobody_can_read(f), f  # ... and nobody else can read it
        # even with the directories opened up, the files' own modes keep them private
        for d in (paths.var, paths.run, paths.log):
            os.chmod(d, 0o755)
        for f in (paths.conf, log):
            assert not _as_nobody_can_read(f), f
        probe = tmp_path / "probe"
        probe.write_text("x")
        probe.chmod(0o644)
        assert _as_nobody_can_read(probe)  # the attack works where the modes allow it
    finally:
        stack.down(paths)
        shutil.rmtree(tmp_path, ignore_errors=True)
