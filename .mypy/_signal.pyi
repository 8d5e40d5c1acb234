# The C module behind ``signal`` (typeshed has no stub for it): the same functions and
# constants, as plain ints where ``signal`` wraps them in enums. bootsh uses it where importing
# ``signal`` (and with it ``enum``) would cost more than the rest of its start-up.
from collections.abc import Callable, Iterable
from types import FrameType

_Handler = Callable[[int, FrameType | None], object] | int | None

SIGTERM: int
SIGHUP: int
SIGINT: int
SIGTTOU: int
SIG_DFL: int
SIG_IGN: int
SIG_BLOCK: int
SIG_SETMASK: int

def signal(signalnum: int, handler: _Handler, /) -> _Handler: ...
def getsignal(signalnum: int, /) -> _Handler: ...
def pthread_sigmask(how: int, mask: Iterable[int], /) -> set[int]: ...
