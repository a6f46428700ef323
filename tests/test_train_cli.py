"""`genospec train` end to end on synthetic data: report, run directory, resume refusal."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from genospec.cli.main import main

GENOTYPE = """genotype tiny {
  cell normal { 2 <- sep_conv_3x3(0), skip_connect(1)  3 <- max_pool_3x3(2), skip_connect(0) }
  cell reduce { stride 2  2 <- max_pool_3x3(0), max_pool_3x3(1)  3 <- skip_connect(2), avg_pool_3x3(1) }
}
"""


def test_train_writes_report_and_run_files(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.gs"
    spec.write_text(GENOTYPE)
    out = tmp_path / "run"
    args = ["train", str(spec), "--data", "synthetic", "--epochs", "1", "--cells", "3", "--channels", "4",
            "--batch", "50", "--cutout", "0", "--drop-path", "0", "--out", str(out), "--quiet"]
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    assert (r.stdout, r.stderr) == ("", "")  # --quiet: nothing but errors
    report = json.loads((out / "report.json").read_text())
    assert report["run"] == str(out) and report["network"] == str(out / "network.pt2")
    assert report["status"] == "complete" and 0.0 <= report["top1"] <= 1.0
    assert report["params"] > 0 and report["macs"] > 0
    assert json.loads((out / "report.json").read_text())["macs"] == report["macs"]
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1
    assert (out / "genotype.gs").read_text().startswith("genotype tiny")
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 3 and "already holds a training run" in again.stderr


def test_train_refuses_a_space(tmp_path: Path) -> None:
    spec = tmp_path / "s.gs"
    spec.write_text("space s { ops { a = identity } cell normal { nodes 1 edges all } }\n")
    r = CliRunner().invoke(main, ["train", str(spec), "--data", "synthetic"])
    assert r.exit_code == 3 and "train a genotype" in r.stderr
