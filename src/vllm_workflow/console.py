"""Console tables, drawn by Rich: one look for every command that prints one.

Plain text (no colour codes), so the lines read the same in a terminal, in Ansible's output and
in a CI log; cells are text, never Rich markup (a "[ms]" in a header stays as it is).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table_lines(head: Sequence[object], rows: Iterable[Sequence[object]], left: Iterable[int] = (0,),
                indent: int = 2) -> list[str]:
    """``head`` and ``rows`` as aligned lines: columns in ``left`` to the left, the rest (numbers)
    to the right, a rule under the header."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    lefts = set(left)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))
    for i, name in enumerate(head):
        table.add_column(Text(str(name)), justify="left" if i in lefts else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(Text(str(c)) for c in row))
    console = Console(width=400, color_system=None, force_terminal=False, highlight=False)
    with console.capture() as captured:
        console.print(table)
    return [" " * indent + line.rstrip() for line in captured.get().splitlines() if line.strip()]
