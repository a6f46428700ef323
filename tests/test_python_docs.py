"""docs/python.md's example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "python.md"


def test_python_docs_example_runs(capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(DOC), "exec"), {"__name__": "docs_example"})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "['tiny', 'tiny_search']"
    assert out[1].endswith("architecture parameters") and int(out[1].split()[0]) > 0
    assert out[2] == "torch.Size([2, 10])"
    epochs = [line.split()[:2] for line in out[3:]]
    assert epochs == [["ops", "1"], ["ops", "2"]]
    assert "'skip':" in out[3] and "'conv':" in out[3]
