"""Run the code cells of a MyST notebook (``docs/tutorials/*.md``) in a test, as Jupyter would.

A ``%%writefile [-a] FILE`` cell writes (appends) its body to FILE exactly as IPython would; every
other cell is plain Python, executed in one namespace in order.
"""
import re
from pathlib import Path


def code_cells(text: str) -> list[str]:
    """Bodies of the ``{code-cell}`` blocks of a MyST notebook, options (``:key: value``) removed."""
    cells = []
    for body in re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```$", text, flags=re.S | re.M):
        lines = body.split("\n")
        while lines and lines[0].startswith(":"):        # cell options: tags, mystnb metadata
            lines.pop(0)
        cells.append("\n".join(lines))
    return cells


def run_cell(cell: str, namespace: dict, notebook: Path) -> None:
    """Execute one cell: a ``%%writefile`` cell writes its file, any other magic is refused."""
    first, _, rest = cell.partition("\n")
    if first.startswith("%%writefile"):
        *flags, target = first.split()[1:]
        with open(target, "a" if "-a" in flags else "w") as handle:
            handle.write(rest)
        return
    assert not first.startswith("%"), f"unsupported magic in {notebook.name}: {first}"
    exec(compile(cell, str(notebook), "exec"), namespace)
