"""The papers' analyses, run with genospec's own search engine and trainer.

- ``kendall`` (DOTS Fig. 1): Kendall tau-b between edge-pair importance (DARTS alpha, DOTS beta)
  and the stand-alone accuracy of the networks the pairs give;
- ``skips`` (DARTS-PT Fig. 2/5): skip_connect on RobustDARTS S2 and noise on S4 in the normal
  cells found by DARTS, DARTS-PT and DOTS;
- ``edarts`` (eDARTS Table II): skip connections with all the data, a data subset, the sparse
  (once per epoch) architecture update, and both.

    result = run_study("kendall", StudyOptions(scale=QUICK))
    result.json_path, result.figures   # the JSON result; its figure as PNG, SVG and PDF
"""

from __future__ import annotations

from typing import Callable

from ..progress import Reporter
from ..registry import STUDY, registry
from .edarts import run_edarts
from .kendall import run_kendall
from .recipes import PAPER, QUICK, SCALES, Scale
from .runner import StudyOptions, StudyResult
from .skips import run_skips
from .tau import kendall_tau_b


def run_study(name: str, options: StudyOptions, reporter: Reporter | None = None) -> StudyResult:
    """Run the study ``name``, a part registered as a ``study`` (`genospec.registry`; the built-in
    ones: kendall, skips, edarts)."""
    run: Callable[[StudyOptions, Reporter | None], StudyResult] = registry(STUDY).get(name)
    return run(options, reporter)


__all__ = ["PAPER", "QUICK", "SCALES", "Scale", "StudyOptions", "StudyResult",
           "kendall_tau_b", "run_edarts", "run_kendall", "run_skips", "run_study"]
