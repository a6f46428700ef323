"""A wheel built from the repository works elsewhere: grammar, schemas and the C kernel's source
travel inside it."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

from genospec.nn import native

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_and_runs_from_another_directory(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(ROOT)], check=True, capture_output=True)
    wheel = next(dist.glob("genospec-*.whl"))
    env_dir = tmp_path / "venv"
    # The dependencies (torch, lark, ...) come from this interpreter's site-packages; genospec
    # itself must come from the wheel.
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                    "-q", str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    spec = elsewhere / "s.gs"
    spec.write_text("space s {\n  ops { a = identity  b = max_pool(3) }\n"
                    "  cell normal { nodes 2 edges all topology pick 1 }\n}\n")
    where = subprocess.run([str(py), "-c", "import genospec, genospec.grammar; print(genospec.__file__)"],
                           cwd=elsewhere, capture_output=True, text=True, check=True)
    assert str(env_dir) in where.stdout, "genospec was not imported from the installed wheel"
    out = subprocess.run([str(env_dir / "bin" / "genospec"), "compile", "s.gs"], cwd=elsewhere,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "architectures: 24" in out.stdout  # pick 1: node 2 has 2 edges x 2 ops, node 3 has 3 x 2
    js = subprocess.run([str(env_dir / "bin" / "genospec"), "compile", "s.gs", "--json"], cwd=elsewhere,
                        capture_output=True, text=True)
    assert js.returncode == 0 and '"genospec-ir"' in js.stdout, js.stderr
    # the C kernels' sources ship too, and build from the installed package
    kernel = subprocess.run([str(py), "-c", "from genospec.nn import native; "
                             "print(all(s.is_file() for s in native.SOURCES + native.HEADERS), native.failure())"],
                            cwd=elsewhere, capture_output=True, text=True,
                            env={**os.environ, "GENOSPEC_CACHE_DIR": str(tmp_path / "cache")})
    assert kernel.returncode == 0, kernel.stderr
    assert kernel.stdout.startswith("True"), kernel.stdout
    if native._compiler() is not None:
        assert kernel.stdout.split(None, 1)[1].strip() == "None", kernel.stdout
