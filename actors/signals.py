"""What a mailbox holds: messages and signals, as tuples tagged by a :class:`Signal`.

Everything one process sends another (a message, a link request, an exit
notice, a cancel) is one *item* in the receiver's mailbox, so it is handled in
send order.  An item is a tuple whose first element is its tag; the shapes:

* ``(MSG, sender, topic, payloads)``: a user message, payloads encoded (``codec``);
* ``(START,)``: the first step of a new process;
* ``(LINK, sender)`` / ``(UNLINK, sender)``: link with ``sender`` / drop the link;
* ``(LINK_GONE, sender)``: a linked peer ended normally, drop the link silently;
* ``(LINK_EXIT, sender, value, error, at)``: a linked peer ended and reports it
  (a workflow's completion): drop the link, give an :class:`~actors.events.Exit` event;
* ``(MONITOR, sender)`` / ``(DEMONITOR, sender)``: ``sender`` starts / stops watching;
* ``(EXIT, sender, value, error, at)``: a process this one monitors ended;
* ``(LINK_DOWN, sender, value, error, at)``: a linked process failed;
* ``(CANCEL, sender, reason, deadline, at)``: a request to finish (``deadline`` in seconds);
* ``(TERMINATE, sender[, error])``: end now (with ``error``, else "process terminated");
* ``(CALL, fn)``: run ``fn(process)`` in the process's own context;
* ``(ENVELOPE, request, refuse)``: a request for the behaviour (a pykka envelope),
  ``refuse(pid, request)`` answers it when the process is gone.

The tags are small ints (the mailbox compares them on its hottest path);
:class:`Signal` gives them names of their own, distinct from the event kinds
of :mod:`actors.events` (``events.EXIT`` is the string Lua sees).  Hosts other
than :class:`~actors.host.ProcessHost` (a Temporal peer) receive the same items
and translate them.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["Item", "Signal"]

Item = tuple[Any, ...]
"""One mailbox item: a tuple tagged by a :class:`Signal` constant."""


class Signal:
    """The tags of mailbox items (see the module docstring for each item's shape)."""

    __slots__ = ()

    MSG: Final = 0
    START: Final = 1
    LINK: Final = 2
    UNLINK: Final = 3
    LINK_GONE: Final = 4
    MONITOR: Final = 5
    DEMONITOR: Final = 6
    EXIT: Final = 7
    LINK_DOWN: Final = 8
    CANCEL: Final = 9
    TERMINATE: Final = 10
    CALL: Final = 11
    ENVELOPE: Final = 12
    LINK_EXIT: Final = 13
