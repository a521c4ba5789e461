"""The README's tutorial code runs as written (blocks executed in order, one namespace)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3, "the tutorial lost its code blocks"
    namespace: dict = {}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"README.md[python block {i}]", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is what matters
            raise AssertionError(f"README python block {i} failed: {exc!r}\n{block}") from exc
