"""Tables for the terminal, drawn by ``rich``: aligned columns, no borders.

Off a terminal (a pipe, a file, a test) a table is plain text that never wraps, so each row
stays one line for ``grep``; on a terminal it fits the window and may use colour.
``rich`` is imported only when a table is drawn (``avatarkit --help`` stays fast).
"""

from __future__ import annotations

import io
import shutil
import sys
from typing import Any


def new_table(*headers: str) -> Any:
    """A ``rich.table.Table`` with these column headers, borderless, flush left."""
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold",
                  highlight=False)
    for header in headers:
        table.add_column(header)
    return table


def render(*renderables: Any) -> str:
    """``renderables`` (tables, text) as the text to print on stdout."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    tty = sys.stdout.isatty()
    # a rule under the header: box-drawing on a terminal, plain ASCII elsewhere
    head = box.SIMPLE_HEAD if tty else box.Box(
        "    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)
    width = shutil.get_terminal_size().columns if tty else 100_000
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=tty, no_color=not tty,
                      highlight=False, markup=False, emoji=False)
    for item in renderables:
        if isinstance(item, Table):
            item.box = head
        console.print(item)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())
