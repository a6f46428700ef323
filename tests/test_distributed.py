"""Several processes, one run: batch shards, DDP search and training with gloo on CPU, resume,
rank-0-only outputs, `genospec search --nproc 2`.

The two-process checks run this file as a script under torch.distributed.run (`_worker`); rank 0
writes what it found to a JSON file that the test reads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genospec import distributed
from genospec.data import iterate
from search_fixtures import TINY_SPACE, recipe_text, tiny_dataset

HERE = Path(__file__).resolve().parent

# second-order DARTS with a DOTS edge relaxation: alpha and beta, DDP and hand-made all-reduce
WORKER_RECIPE = recipe_text(TINY_SPACE, """
  batch 16
  seed 3
  stage search {
    epochs 2
    arch adam lr 3e-3 betas 0.5, 0.999 decay 1e-3
    update bilevel second_order
    relax edges combination temperature 1
    select best combination
  }
""")

CLI_RECIPE = recipe_text(TINY_SPACE, """
  data synthetic
  subset 32, 32
  batch 16
  seed 4
  stage search { epochs 2  supernet cells 1 channels 4  select magnitude }
""")


# ---- single process -----------------------------------------------------------------------
def test_shard_positions_split_batches_like_distributed_sampler():
    assert [distributed.shard_positions(5, r, 2).tolist() for r in (0, 1)] == [[0, 2, 4],
                                                                                [1, 3, 0]]
    assert [distributed.shard_positions(8, r, 4).tolist() for r in range(4)] == [
        [0, 4], [1, 5], [2, 6], [3, 7]]
    # fewer images than ranks: every rank still gets one (wrapped round)
    assert [distributed.shard_positions(1, r, 3).tolist() for r in range(3)] == [[0], [0], [0]]


def test_single_process_is_unchanged(tmp_path):
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    assert not distributed.active()
    model = torch.nn.Linear(2, 2)
    assert distributed.ddp(model) is model
    grads = [torch.ones(3)]
    distributed.average_(grads)
    assert grads[0].tolist() == [1.0, 1.0, 1.0]
    assert distributed.shared_copy(tmp_path) == tmp_path
    assert distributed.rank_device("cuda:1") == "cuda:1"
    split = tiny_dataset(n_train=20).train
    whole = list(iterate(split, 8, shuffle=True, seed=1, epoch=2, start=1))
    mine = list(distributed.iterate_shard(split, 8, shuffle=True, seed=1, epoch=2, start=1))
    assert [len(y) for _, y in mine] == [8, 4]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(whole, mine))


# ---- two processes ------------------------------------------------------------------------
def _env(tmp: Path) -> dict[str, str]:
    tmp.mkdir(exist_ok=True)
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": path}


def test_two_process_search_resume_and_training(tmp_path):
    """Both ranks end with the same alpha, beta and weights; rank 0 alone writes the run
    directory; a resumed two-process run ends where the uninterrupted one did; DDP training of
    an evaluation network keeps the ranks equal too."""
    tmp = tmp_path / "tmp"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         str(Path(__file__).resolve()), str(tmp_path)],
        capture_output=True, text=True, env=_env(tmp), timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = json.loads((tmp_path / "found.json").read_text())
    assert found["world"] == 2
    assert found["shards"] == [[4, 4], [4, 4], [4, 4], [1, 1]]  # 25 images, batch 8, 2 ranks
    assert found["shards_match_single_process_batches"]
    assert found["arch_keys"] == ["arch.normal.alpha", "arch.normal.beta",
                                  "arch.reduce.alpha", "arch.reduce.beta"]
    assert found["arch_trained"]
    assert found["ranks_equal"] == {"arch": True, "weights": True}
    assert found["rank1_wrote_elsewhere"]
    assert found["resumed_equals_uninterrupted"]
    assert found["resumed_ranks_equal"]
    assert found["train_ranks_equal"]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("genotype.gs")) \
        == ["resumed/genotype.gs", "run/genotype.gs"]
    metrics = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(m)["epoch"] for m in metrics] == [1, 2]  # one writer
    assert not list(tmp.glob("genospec-rank*"))  # the private directories of rank 1 are gone


def test_search_cli_nproc(tmp_path):
    recipe = tmp_path / "recipe.gs"
    recipe.write_text(CLI_RECIPE, encoding="utf-8")
    tmp, run = tmp_path / "tmp", tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "genospec.cli.main", "search", str(recipe), "--nproc", "2",
         "--out", str(run)],
        capture_output=True, text=True, env=_env(tmp), timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(f"{run / 'genotype.gs'}") == 1  # rank 0 alone prints
    assert list(tmp_path.rglob("genotype.gs")) == [run / "genotype.gs"]
    assert not list(tmp.glob("genospec-rank*"))
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2


def test_launch_returns_the_failing_exit_code(tmp_path):
    # the processes fail before they need torch: a fast check of the exit-code plumbing
    code = distributed.launch(2, ["fmt", "--check", str(tmp_path / "missing.gs")])
    assert code == 2  # click: the file does not exist


# ---- the worker (run under torch.distributed.run) -----------------------------------------
def _gather(obj: object) -> list:
    import torch.distributed as dist
    found = [None] * dist.get_world_size()
    dist.all_gather_object(found, obj)
    return found


def _same(a: dict, b: dict, keys: list[str]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in keys)


def _worker(root: Path) -> None:
    from genospec import checkpoint
    from genospec.data import Augment
    from genospec.nn.network import build_network
    from genospec.search.engine import resume_search, start_search
    from genospec.train.config import TrainConfig
    from genospec.train.loop import train
    from search_fixtures import write_recipe

    with distributed.session():
        rank, found = distributed.rank(), {"world": distributed.world_size()}
        # each rank reads its shard of every batch, augmented as in a single process
        split = tiny_dataset(n_train=50).train.take(torch.arange(25))
        aug = Augment(crop_padding=1, flip=True, cutout=2)
        kw = dict(shuffle=True, seed=5, epoch=1, augment=aug)
        mine = list(distributed.iterate_shard(split, 8, **kw))
        whole = list(iterate(split, 8, **kw))
        ok = all(torch.equal(x, wx[distributed.shard_positions(len(wy), rank, 2)])
                 and torch.equal(y, wy[distributed.shard_positions(len(wy), rank, 2)])
                 for (x, y), (wx, wy) in zip(mine, whole))
        found["shards"] = [[len(y) for _, y in b] for b in zip(*_gather(mine))]
        found["shards_match_single_process_batches"] = all(_gather(ok))

        recipe = write_recipe(root, WORKER_RECIPE)
        data = tiny_dataset(n_train=64)
        result = start_search(recipe, out=root / "run", dataset=data)
        found["rank1_wrote_elsewhere"] = all(_gather(
            (result.run.path == root / "run") == (rank == 0)))
        model = checkpoint.load(result.run.path / "checkpoint.pt")["model"]
        arch = sorted(k for k in model if k.startswith("arch.") and k.split(".")[-1]
                      in ("alpha", "beta"))
        weights = [k for k in model if k.startswith("net.") and model[k].is_floating_point()
                   and "running" not in k]
        found["arch_keys"] = arch
        found["arch_trained"] = bool(model["arch.normal.beta"].abs().sum() > 0)
        models = _gather(model)
        found["ranks_equal"] = {"arch": _same(models[0], models[1], arch),
                                "weights": _same(models[0], models[1], weights)}

        # resume from the end of epoch 1 (the checkpoint kept beside the last one)
        if rank == 0:
            shutil.copytree(root / "run", root / "resumed")
            os.replace(root / "resumed" / "checkpoint.prev.pt", root / "resumed" / "checkpoint.pt")
            for name in ("genotype.gs", "search.gs"):
                (root / "resumed" / name).unlink()
        again = resume_search(root / "resumed", dataset=data)
        resumed = checkpoint.load(again.run.path / "checkpoint.pt")["model"]
        found["resumed_equals_uninterrupted"] = all(_gather(
            _same(resumed, model, list(model))))
        both = _gather(resumed)
        found["resumed_ranks_equal"] = _same(both[0], both[1], arch + weights)

        # DDP training of the searched genotype's evaluation network
        torch.manual_seed(0)
        net = build_network(again.space, cells=2, channels=4, classes=data.num_classes,
                            in_chans=data.in_chans, auxiliary=False)
        config = TrainConfig(epochs=1, batch_size=16, cutout=0, drop_path=0.0, crop_padding=1)
        out = root / "train" if rank == 0 else distributed.private_dir()
        train(net, data, config, out)
        states = _gather({k: v for k, v in net.state_dict().items() if "running" not in k})
        found["train_ranks_equal"] = _same(states[0], states[1], list(states[0]))
        if rank == 0:
            (root / "found.json").write_text(json.dumps(found))


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
