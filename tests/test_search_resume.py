"""Interrupted searches resume to the very genotype (and weights) of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from genospec import checkpoint
from genospec.progress import Reporter
from genospec.search.engine import SearchInterrupted, resume_search, start_search
from search_fixtures import DARTS_LIKE, TINY_SPACE, recipe_text, tiny_dataset, write_recipe

TESTS = Path(__file__).parent
STEPS_PER_EPOCH = 4  # 64 training images, batch 16
# Every run of this file computes at one thread (the killed child process too): a float sum
# split over another thread count rounds differently, and a CLI test earlier in the same
# process may have left torch at another count (--threads).
THREADS = 1


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


class SignalAt(Reporter):
    """Sends ``sig`` to this very process once ``at`` training steps have been reported."""

    def __init__(self, at: int, sig: int):
        self.at, self.sig, self.steps = at, sig, 0

    def update(self, n: int = 1, **values: float) -> None:
        self.steps += n
        if n and self.steps == self.at:
            os.kill(os.getpid(), self.sig)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of the tiny DARTS-like recipe."""
    tmp = tmp_path_factory.mktemp("reference")
    recipe = write_recipe(tmp, recipe_text(TINY_SPACE, DARTS_LIKE))
    return start_search(recipe, out=tmp / "run", dataset=tiny_dataset())


def _same_run(run: Path, reference) -> None:
    assert (run / "genotype.gs").read_text() == reference.genotype.read_text()
    ours = checkpoint.load(run / "checkpoint.pt")["model"]
    theirs = checkpoint.load(reference.run.checkpoint_path)["model"]
    assert ours.keys() == theirs.keys()
    for k in ours:  # bit-identical weights and architecture
        assert torch.equal(ours[k], theirs[k]), k
    epochs = [(r["stage"], r["epoch"]) for r in checkpoint.read_jsonl(run / "metrics.jsonl")]
    assert epochs == [("search", 1), ("search", 2), ("search", 3)]
    mine = [r["weights"] for r in checkpoint.read_jsonl(run / "metrics.jsonl")]
    assert mine == [r["weights"] for r in reference.run.metrics()]


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    import torch
    torch.set_num_threads({threads})
    sys.path.insert(0, {tests!r})
    from search_fixtures import DARTS_LIKE, TINY_SPACE, recipe_text, tiny_dataset, write_recipe
    from test_search_resume import SignalAt
    from genospec.search.engine import start_search
    from pathlib import Path
    tmp = Path({tmp!r})
    recipe = write_recipe(tmp, recipe_text(TINY_SPACE, DARTS_LIKE))
    start_search(recipe, out=tmp / "run", dataset=tiny_dataset(),
                 reporter=SignalAt({at}, signal.SIGKILL))
""")


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path, reference):
    # killed in the middle of epoch 2, after the checkpoint of epoch 1
    at = STEPS_PER_EPOCH + 2
    script = KILLED_RUN.format(tests=str(TESTS), tmp=str(tmp_path), at=at, threads=THREADS)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    state = checkpoint.load(tmp_path / "run" / "checkpoint.pt")
    assert (state["epoch"], state["step"]) == (1, 0)
    assert not (tmp_path / "run" / "genotype.gs").exists()

    result = resume_search(tmp_path / "run", dataset=tiny_dataset())
    assert result.genotype == tmp_path / "run" / "genotype.gs"
    _same_run(tmp_path / "run", reference)


def test_ctrl_c_checkpoints_mid_epoch_and_resumes(tmp_path, reference):
    recipe = write_recipe(tmp_path, recipe_text(TINY_SPACE, DARTS_LIKE))
    at = 2 * STEPS_PER_EPOCH + 2  # epoch 3, step 2
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(SearchInterrupted, match="checkpoint saved") as caught:
        start_search(recipe, out=tmp_path / "run", dataset=tiny_dataset(),
                     reporter=SignalAt(at, signal.SIGINT))
    assert caught.value.exit_code == 130
    assert "--resume" in caught.value.hint
    state = checkpoint.load(tmp_path / "run" / "checkpoint.pt")
    assert (state["epoch"], state["step"]) == (2, 2)
    assert state["running"]["n"] == 2 * 16
    assert len(checkpoint.read_jsonl(tmp_path / "run" / "metrics.jsonl")) == 2
    assert signal.getsignal(signal.SIGINT) is handler  # the search's handler is gone again

    resume_search(tmp_path / "run", dataset=tiny_dataset())
    _same_run(tmp_path / "run", reference)

    # resuming a finished run redoes nothing and gives the same result
    again = resume_search(tmp_path / "run", dataset=tiny_dataset())
    assert again.genotype.read_text() == reference.genotype.read_text()
    assert len(again.run.metrics()) == 3
