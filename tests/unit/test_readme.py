"""The README's library example runs as written and prints what it says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def test_the_library_example_runs_and_prints_its_comment() -> None:
    (example,) = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(example, "README.md", "exec"), {})
    expected = re.search(r"print\(.*\)\s+# (.*)", example)
    assert expected is not None
    assert output.getvalue().strip() == expected.group(1).strip()
