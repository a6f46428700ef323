"""What a search run does, as ``resolved.json`` holds it: the recipe, the command line's options
and every stage's typed settings (`genospec.lang.settings.StageSettings`).

Format 3 stores `StageSettings.to_json`; runs written by format 2 (the merged layers) and format
1 (before the registries) are read through `from_merged` and resume; other formats are refused
with a message naming the versions.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace
from typing import Any

from ..lang.settings import StageSettings, from_merged
from ..runtime.directory import RunDirError
from .run import RunDir

FORMAT = 3  # 3: typed settings; 2: merged layers (the registries, issue 14); 1: before them
READABLE_FORMATS = (1, 2, 3)


@dataclass(frozen=True)
class RunPlan:
    recipe: str
    recipe_file: str | None
    space: str
    quick: bool
    data: str | None  # --data
    data_root: str | None  # --data-root (may change on --resume)
    device: str
    start: int  # the index of the first stage run (--from)
    space_file: str | None
    stages: tuple[tuple[str, StageSettings], ...]
    created: str = ""
    input_size: int | None = None  # --input-size (ImageFolder)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "recipe": self.recipe, "recipe_file": self.recipe_file,
                "space": self.space, "quick": self.quick, "data": self.data,
                "data_root": self.data_root, "device": self.device, "start": self.start,
                "space_file": self.space_file, "created": self.created or
                time.strftime("%Y-%m-%dT%H:%M:%S"), "input_size": self.input_size,
                "data_root_absolute": _absolute_root(self), "versions": versions(),
                "stages": [{"name": n, "settings": s.to_json()} for n, s in self.stages]}

    def with_options(self, *, device: str | None = None,
                     data_root: str | None = None) -> "RunPlan":
        """The plan with the options a resumed run may change (None: unchanged)."""
        return replace(self, device=device or self.device, data_root=data_root or self.data_root)


def versions() -> dict[str, str]:
    """The versions a run was made with (recorded, never checked: the format is)."""
    import platform

    import torch

    from .. import __version__
    return {"genospec": __version__, "torch": torch.__version__, "python": platform.python_version()}


def _absolute_root(plan: RunPlan) -> str | None:
    """Where the first stage's data is read from, as an absolute path (None: a dataset without a
    directory, such as synthetic)."""
    import os

    from ..data.readers import FASHION_MNIST_ROOT
    s = plan.stages[plan.start][1]
    root = plan.data_root or s.data.root
    if root is None and (plan.data or s.data.dataset) == "fashion_mnist":
        root = str(FASHION_MNIST_ROOT)
    return os.path.abspath(os.path.expanduser(root)) if root else None


def read_plan(run: RunDir) -> RunPlan:
    """``resolved.json`` of ``run`` through the typed settings (RunDirError when it cannot be
    read: another format, or damaged)."""
    d = run.read_resolved()
    version = d.get("format")
    if version not in READABLE_FORMATS:
        raise RunDirError(f"{run.path} was written by an incompatible genospec version (run "
                          f"format {version!r}; this version reads "
                          f"{', '.join(map(str, READABLE_FORMATS))})",
                          hint="start the search again, or resume it with the genospec "
                               "version that wrote it")
    try:
        stages = tuple((st["name"], _stage(st["settings"], version)) for st in d["stages"])
        return RunPlan(d["recipe"], d.get("recipe_file"), d["space"], bool(d.get("quick")),
                       d.get("data"), d.get("data_root"), d.get("device") or "cpu", d["start"],
                       d.get("space_file"), stages, d.get("created", ""), d.get("input_size"))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise RunDirError(f"{run.path / 'resolved.json'} is damaged: its stage settings do not "
                          f"read as format {version} ({type(e).__name__}: {e})",
                          hint="it is written by `genospec search`; restore it or start a new "
                               "run") from None


def _stage(settings: dict[str, Any], version: int) -> StageSettings:
    if version == 3:
        return StageSettings.from_json(settings)
    return from_merged(settings if version == 2 else upgrade_format_1(settings))


def upgrade_format_1(stage: dict[str, Any]) -> dict[str, Any]:
    """Stage settings written by format 1 (before the registries) in format 2's form: the group
    relaxation by its registered name, no empty selection options."""
    out = copy.deepcopy(stage)
    for r in out.get("relax", []):
        if r["target"] == "groups" and r["method"] == "softmax":
            r["method"] = "group_softmax"
        if r["method"] != "combination":
            r.pop("normalise", None)
    select = out.get("select", {})
    if select.get("threshold", 0) is None:
        del select["threshold"]
    out.setdefault("regularise", [])
    out.setdefault("plugins", [])
    return out
