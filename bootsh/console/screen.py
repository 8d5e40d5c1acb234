"""What the full-screen views (``menu``, ``form``, ``config``) share: one window of
formatted text redrawn from a function, iPXE's colours or their monochrome stand-ins, and
the terminal's size as the view should assume it.

prompt_toolkit is imported inside the functions: the views load only when a command shows
one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from prompt_toolkit.application import Application
    from prompt_toolkit.formatted_text import StyleAndTextTuples
    from prompt_toolkit.input import Input
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.output import Output


def screen_size(app: Application[None]) -> tuple[int, int]:
    """(columns, rows) of the application's output; 80x24 where it cannot say."""
    try:
        shown = app.output.get_size()
        return shown.columns, shown.rows
    except Exception:  # a DummyOutput or an odd terminal
        return 80, 24


def full_screen(
    fragments: Callable[[], StyleAndTextTuples],
    bindings: KeyBindings,
    styles: Mapping[str, tuple[str, str]],
    *,
    color: bool,
    input: Input | None,
    output: Output | None,
) -> Application[None]:
    """A full-screen application showing ``fragments``; ``styles`` maps each style class to
    its (monochrome, colour) pair, and ``color=False`` also drops the output to monochrome."""
    from prompt_toolkit.application import Application
    from prompt_toolkit.layout import HSplit, Layout, Window
    from prompt_toolkit.layout.controls import FormattedTextControl
    from prompt_toolkit.output import ColorDepth
    from prompt_toolkit.styles import Style

    style = Style.from_dict({name: pair[1] if color else pair[0] for name, pair in styles.items()})
    return Application(
        layout=Layout(HSplit([Window(FormattedTextControl(fragments, show_cursor=False))])),
        key_bindings=bindings,
        full_screen=True,
        style=style,
        color_depth=ColorDepth.MONOCHROME if not color else None,
        input=input,
        output=output,
    )
