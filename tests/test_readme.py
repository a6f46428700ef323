"""Every command README.md shows works when pasted: the fast ones run verbatim here; the long ones
(searches, training, studies) are checked to name declarations that exist, and run verbatim
(with `--epochs 1` on synthetic data appended) when GENOSPEC_SLOW=1."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LONG = ("search", "train", "study")


def readme_commands() -> list[str]:
    """The `genospec ...` lines of README.md's indented command blocks, comments removed."""
    out = []
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^ {4}(genospec \S.*)$", line)
        if m:
            out.append(re.sub(r"\s+#\s.*$", "", m.group(1)).rstrip())
    return out


COMMANDS = readme_commands()
FAST = [c for c in COMMANDS if c.split()[1] not in LONG]


def test_readme_shows_commands_of_every_kind() -> None:
    kinds = {c.split()[1] for c in COMMANDS}
    assert {"compile", "search", "render", "train", "fmt", "convert", "list", "study"} <= kinds


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A directory in which the README's relative paths (specs/...) resolve, so that files the
    commands write (darts_v2.svg) do not land in the repository."""
    work = tmp_path_factory.mktemp("readme")
    (work / "specs").symlink_to(ROOT / "specs")
    return work


def genospec(command: str, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    exe = shutil.which("genospec") or f"{sys.executable} -m genospec.cli.main"
    line = command.replace("genospec", exe, 1)
    # bash, so that globs (specs/**/*.gs) expand as they do where a reader pastes them
    return subprocess.run(["bash", "-c", line], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.mark.parametrize("command", FAST, ids=[" ".join(c.split()[1:3])[:40] for c in FAST])
def test_readme_command_runs_verbatim(command: str, workdir: Path) -> None:
    if command.split()[1] == "render" and shutil.which("dot") is None:
        pytest.skip("graphviz is not installed")
    done = genospec(command, workdir)
    assert done.returncode == 0, f"{command}\n{done.stderr}"
    assert "Traceback" not in done.stderr


def test_readme_long_commands_name_declarations_that_exist(workdir: Path) -> None:
    from genospec import ir
    from genospec.lang.loader import load
    from genospec.registry import STUDY, registry
    for command in COMMANDS:
        words = shlex.split(command)
        if words[1] == "study":
            assert words[2] in registry(STUDY), command
        elif words[1] == "search":
            file, name = words[2], words[3]
            assert not name.startswith("-"), f"{command}: names no declaration"
            assert isinstance(load(ROOT / file).get(name), ir.Recipe), command
        elif words[1] == "train" and not words[2].startswith("runs/"):
            assert load(ROOT / words[2]).get(words[3]).is_genotype, command


@pytest.mark.skipif(os.environ.get("GENOSPEC_SLOW") != "1",
                    reason="minutes per command; GENOSPEC_SLOW=1 runs them")
@pytest.mark.parametrize("command", [c for c in COMMANDS if c.split()[1] in ("search", "train")])
def test_readme_long_command_runs(command: str, workdir: Path) -> None:
    if "runs/quick-darts" in command:  # made by `make search`
        genospec("genospec search specs/searches/darts.gs darts_first_order --quick "
                 "--out runs/quick-darts --epochs 1 --data synthetic", workdir, timeout=600)
    done = genospec(command + " --epochs 1 --data synthetic --quiet", workdir, timeout=600)
    assert done.returncode == 0, f"{command}\n{done.stderr}"


def test_readme_images_exist() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert images, "README shows a figure of the main job"
    for image in images:
        assert (ROOT / image).is_file() and (ROOT / image).stat().st_size < 200_000, image
