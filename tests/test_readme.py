"""The README's Python quickstart runs as written and prints what it says."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]):
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
              if re.search(r"^# BorrowRejected\(", b, re.M)]
    assert len(blocks) == 1, "README has no Python quickstart (the block ending in its output)"
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "README.md", "exec"), {})
    out = capsys.readouterr().out
    expected = re.search(r"^# (BorrowRejected\(.*\))$", blocks[0], re.M)
    assert expected is not None
    assert expected.group(1) in out
    # The health factor's comment: 10 WETH x 1,900 x 0.83 / 16,000 = 0.985625.
    health = re.search(r"^print\(data.health_factor / 10\*\*18\) +# ([\d.]+)\.\.\.",
                       blocks[0], re.M)
    assert health is not None
    assert out.splitlines()[1].startswith(health.group(1))
    assert (tmp_path / "events.sqlite").exists()


def test_readme_names_the_two_commands():
    text = README.read_text()
    assert "marginengine simulate examples/quickstart.toml" in text
    assert 'pip install -e ".[test]" && pytest' in text
