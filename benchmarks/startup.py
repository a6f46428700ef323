"""Start-up costs: ``genospec --help`` and compiling the DARTS space.

- ``help``: wall time of ``genospec --help`` as a subprocess (median of ``--runs``); DESIGN §5
  wants it fast, so torch must not be imported by it (checked: ``imports_torch``).
- ``compile_cold``: a fresh interpreter imports ``genospec.lang.loader`` and loads
  ``specs/spaces/darts.gs`` (grammar built, file parsed and checked); the time from before the
  import to the loaded module, measured inside that process (median of ``--runs`` processes).
- ``compile_warm``: the same ``load`` again in one process once the parser is cached (median of
  ``--runs`` loads).

    python benchmarks/startup.py --runs 10
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time

import common

SPACE = common.REPO / "specs" / "spaces" / "darts.gs"
COLD = """
import json, sys, time
t0 = time.perf_counter()
from genospec.lang.loader import load
t1 = time.perf_counter()
load(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "torch": "torch" in sys.modules}))
"""
WARM = """
import json, statistics, sys, time
from genospec.lang.loader import load
load(sys.argv[1])
times = []
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    load(sys.argv[1])
    times.append(time.perf_counter() - t0)
print(json.dumps({"load_s": statistics.median(times)}))
"""
TORCH_CHECK = ("import sys; sys.argv = ['genospec', '--help']\n"
               "from genospec.cli.main import main\n"
               "try:\n    main()\nexcept SystemExit:\n    pass\n"
               "print('torch' in sys.modules, file=sys.stderr)")


def help_command() -> list[str]:
    """The installed ``genospec`` command, or the same entry point through this interpreter."""
    found = shutil.which("genospec")
    if found:
        return [found, "--help"]
    return [sys.executable, "-c", "from genospec.cli.main import main; main()", "--help"]


def _python(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True, cwd=common.REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(runs: int) -> dict:
    """The start-up figures described in the module docstring."""
    cmd = help_command()
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, cwd=common.REPO)
        walls.append(time.perf_counter() - t0)
    check = subprocess.run([sys.executable, "-c", TORCH_CHECK], capture_output=True, text=True,
                           cwd=common.REPO)
    cold = [_python(COLD, str(SPACE)) for _ in range(runs)]
    warm = _python(WARM, str(SPACE), str(runs))
    return {
        "help_s": statistics.median(walls), "help_min_s": min(walls),
        "help_imports_torch": check.stderr.strip().splitlines()[-1] == "True",
        "compile_cold_s": statistics.median(c["import_s"] + c["load_s"] for c in cold),
        "compile_cold_import_s": statistics.median(c["import_s"] for c in cold),
        "compile_imports_torch": any(c["torch"] for c in cold),
        "compile_warm_s": warm["load_s"],
        "runs": runs, "command": " ".join(cmd), "load_avg_1min": common.os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    r = measure(parser.parse_args().runs)
    print(f"genospec --help: {r['help_s'] * 1000:.0f} ms (median of {r['runs']}; torch imported: "
          f"{r['help_imports_torch']})")
    print(f"compile darts.gs, fresh process: {r['compile_cold_s'] * 1000:.0f} ms "
          f"({r['compile_cold_import_s'] * 1000:.0f} ms of it importing the loader)")
    print(f"compile darts.gs, warm: {r['compile_warm_s'] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
