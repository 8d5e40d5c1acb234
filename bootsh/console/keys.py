"""Key bindings of the interactive shell, beyond prompt_toolkit's Emacs defaults.

- Enter on a line that ends in ``\\`` continues the input on a new line (the script
  language's line continuation), so that a multi-line script can be typed; the whole input
  then runs as one script (labels and ``goto`` work within it).

Ctrl-C (drop the line), Ctrl-D (leave on an empty line, else delete), Tab (complete),
Right / Ctrl-E / Ctrl-F at the end of the line (take the history suggestion) and the rest of
the Emacs keys are prompt_toolkit's own.
"""

from __future__ import annotations

from prompt_toolkit.application.current import get_app
from prompt_toolkit.filters import Condition
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent


@Condition
def _continued() -> bool:
    buffer = get_app().current_buffer
    return buffer.document.is_cursor_at_the_end and buffer.text.endswith("\\")


def key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter", filter=_continued)
    def _continue_line(event: KeyPressEvent) -> None:
        event.current_buffer.newline(copy_margin=False)

    return bindings
