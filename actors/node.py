"""``Node``: the hosts of one OS process, their routing, and the names.

Every call that takes a PID also takes a registered name.  The node looks at
the PID's *node* part first (empty: this node; a ``temporal.client`` ID: that
client's workflows) and then at its *host* part, so a caller never knows
whether it talks to a local actor, a Lua process or a durable workflow.

The node knows hosts only through :class:`~actors.seam.Host`: it constructs
none and asks nothing else of them.  ``actors.Node`` (:mod:`actors.local`)
is this node wired for an OS process: the spawnable kinds, a default
:class:`~actors.host.ProcessHost`, and pykka ``ActorRef`` helpers.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from actors import _ops, codec, errors
from actors._process import Process, _context, current_process
from actors._timers import Timers, check_delay
from actors.codec import encode
from actors.names import LOCAL, Completion, Names, scope_name
from actors.pid import LOCAL_NODE, PID, is_pid_text
from actors.seam import Behaviours, Host, SpawnRequest, StartMessage
from actors.signals import Item, Signal

__all__ = ["DEFAULT_HOST", "Node", "call_context", "default_node", "set_default_factory", "validate_topic"]

logger = logging.getLogger("actors.node")

DEFAULT_HOST = "app:processes"

_MSG = Signal.MSG  # for send, the hottest path: a module global loads faster than a class attribute


class Node:
    """Hosts, routing and names for one OS process.

    Hosts are added with :meth:`add_host` (and peers with :meth:`add_peer`);
    ``kinds`` is what process hosts build behaviours with.  ``actors.Node()``
    gives one wired with a default host named ``app:processes``.  Use it as a
    context manager, or call :meth:`shutdown`.
    """

    def __init__(
        self,
        name: str = "local",
        *,
        kinds: Behaviours | None = None,
        default_host: str = DEFAULT_HOST,
    ) -> None:
        self.name = name
        self.names = Names()
        self.timers = Timers(name=f"{name}-timers")
        self.kinds = kinds
        """What process hosts turn spawn targets into behaviours with (:class:`actors.kinds.Kinds`)."""
        self.functions: dict[str, Callable[..., Any]] = {}
        """Python callables that ``funcs.call`` can reach, by ID (``register_function``)."""
        self._executor: ThreadPoolExecutor | None = None
        self._hosts: dict[str, Host] = {}
        self._peers: dict[str, Host] = {}
        self._uniq = itertools.count(1)
        self.pid_node = ""
        """The node part of the PIDs this node mints: empty, or its name in a cluster
        (:meth:`set_pid_node`).  PIDs with this node part are routed to its own hosts."""
        self._lock = threading.Lock()
        self._closed = False
        self.default_host_id = default_host
        """Where a spawn without ``host`` goes."""

    # -- hosts and peers ------------------------------------------------------

    def add_host(self, host: Host, *, start: bool = True) -> Host:
        """Register ``host`` under its ID (and start it)."""
        with self._lock:
            if host.id in self._hosts:
                raise errors.Error(errors.ALREADY_EXISTS, f"host {host.id!r} already exists")
            self._hosts[host.id] = host
        if start:
            host.start()
        return host

    def add_peer(self, node_name: str, peer: Host) -> None:
        """Route PIDs whose node part is ``node_name`` (e.g. a Temporal client) to ``peer``."""
        with self._lock:
            self._peers[node_name] = peer

    def hosts(self) -> list[Host]:
        """The hosts added with :meth:`add_host`, in that order (a cluster announces their IDs)."""
        with self._lock:
            return list(self._hosts.values())

    def host(self, host_id: str) -> Host:
        """The host registered as ``host_id`` (``<own node name>@<host>`` too); ``NOT_FOUND`` otherwise."""
        host = self._host_of(host_id)
        if host is None:
            raise errors.Error(errors.NOT_FOUND, f"host {host_id!r} not found")
        return host

    def in_memory(self, pid: PID | None = None, host_id: str | None = None) -> bool:
        """True when delivering to ``pid`` (or spawning on ``host_id``) never waits on I/O."""
        host = self._route(pid) if pid is not None else self._host_of(host_id or "")
        return host is not None and host.in_memory

    def _host_of(self, host_id: str) -> Host | None:
        host = self._hosts.get(host_id)
        if host is None and self.pid_node and host_id.startswith(self.pid_node + "@"):
            host = self._hosts.get(host_id[len(self.pid_node) + 1 :])
        return host

    def new_pid(self, host_id: str) -> PID:
        """A new PID on ``host_id``: the node's next ID (``0x00001``, …) and its node part."""
        return PID(host_id, f"0x{next(self._uniq):05x}", self.pid_node)

    def set_pid_node(self, name: str, first_uniq: int = 1) -> None:
        """Mint PIDs as ``{name@host|id}`` from now on, counting from ``first_uniq``.

        A cluster names its node this way when it joins (``first_uniq`` keeps a
        restarted node from handing out the PIDs of its earlier lives); PIDs
        with that node part are this node's own and route to its hosts.  Only
        before the node runs processes: the PIDs already out would not carry
        the name the other nodes know it by (``INVALID``).
        """
        if not name:
            raise errors.Error(errors.INVALID, "a node name must not be empty")
        if self.process_count():
            raise errors.Error(errors.INVALID, f"node {self.name} already runs processes: name it first")
        self.pid_node = "" if name == LOCAL_NODE else name  # "local": the default node, no node part
        self._uniq = itertools.count(first_uniq)

    def is_own(self, pid: PID) -> bool:
        """True when ``pid`` belongs to this node (no node part, or this node's own name)."""
        return not pid.node or pid.node == self.pid_node

    def _route(self, pid: PID) -> Host | None:
        node = pid.node
        if node and node != self.pid_node:
            return self._peers.get(node)
        return self._hosts.get(pid.host)

    # -- resolution and delivery -------------------------------------------------

    def resolve(self, dest: PID | str) -> PID:
        """A PID for ``dest`` (a PID, PID text, or registered name); ``NOT_FOUND`` otherwise."""
        if isinstance(dest, PID):
            return dest
        if isinstance(dest, str):
            if is_pid_text(dest):
                return PID.parse(dest)
            pid = self.names.whereis(dest)
            if pid is None:
                raise errors.Error(errors.NOT_FOUND, f"could not resolve {dest!r} as PID or registered name")
            return pid
        raise errors.Error(errors.INVALID, f"expected a PID or a name, got {type(dest).__name__}")

    def deliver(self, pid: PID, item: Item) -> bool:
        """Hand a mailbox item to whichever host owns ``pid``; False if it is gone."""
        host = self._route(pid)
        if host is None:
            return False
        return host.deliver(pid, item)

    def deliver_if_alive(self, pid: PID, item: Item) -> bool:
        """Deliver only to a live process (link/monitor requests)."""
        host = self._route(pid)
        return host is not None and host.deliver_if_alive(pid, item)

    def is_alive(self, dest: PID | str) -> bool:
        """True while ``dest`` names a live process."""
        try:
            pid = self.resolve(dest)
        except errors.Error:
            return False
        host = self._route(pid)
        return host is not None and host.is_alive(pid)

    def process(self, pid: PID) -> Process | None:
        """The process object behind ``pid`` when it runs in this OS process (introspection, tests)."""
        host = self._route(pid)
        return host.process(pid) if host is not None else None

    # -- operations -----------------------------------------------------------

    def spawn(
        self,
        target: Any,
        *args: Any,
        host: str | None = None,
        link: bool = False,
        monitor: bool = False,
        name: str | None = None,
        context: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
        messages: tuple[tuple[str, Any], ...] | list[tuple[str, Any]] = (),
        thread: bool | None = None,
        on_started: Callable[[PID], None] | None = None,
        **kwargs: Any,
    ) -> PID:
        """Start a process and return its PID.

        ``target`` is an :class:`~actors.Actor` subclass, an ``async def
        f(process, ...)`` function, or an entry ID.  ``link``/``monitor``
        attach the calling process (the actor or probe whose code is running)
        before the child's first step.  With ``name``, an already registered
        name returns the existing PID instead and the start ``messages``
        (``(topic, payload)`` pairs) go to it (spawn-or-signal), and
        ``link``/``monitor`` attach the caller to it.  ``on_started(pid)`` is
        called once the child's first step is done and it is alive
        (:attr:`SpawnRequest.on_started`).
        """
        caller = current_process()
        if (link or monitor) and caller is None:
            raise errors.Error(
                errors.INVALID,
                "link/monitor need a calling process: spawn from an actor, a process or a Probe",
            )
        request = SpawnRequest(
            target,
            args,
            caller.pid if caller is not None else None,
            link,
            monitor,
            name,
            _inherit_context(caller, context),
            dict(options) if options else None,
            tuple(_start_message(topic, payload) for topic, payload in messages) if messages else (),
            kwargs or None,
            thread,
            on_started=on_started,
        )
        return self.spawn_request(request, host or self.default_host_id, caller)

    def spawn_request(self, request: SpawnRequest, host_id: str, caller: Process | None = None) -> PID:
        """Spawn from a prepared request on ``host_id`` (the path every spawn takes).

        ``caller`` is the process that gets the link/monitor (``request.parent``).
        """
        target_host = self.host(host_id)
        if request.name is not None and target_host.names_are_local:
            existing = self.names.whereis(request.name)
            if existing is not None and self.is_alive(existing):
                return self._reuse(existing, request, caller)
        try:
            pid = target_host.spawn(request)
        except errors.Error as err:
            if err.kind() != errors.ALREADY_EXISTS or request.name is None:
                raise
            existing = self.names.whereis(request.name)
            if existing is None:
                raise
            return self._reuse(existing, request, caller)
        if caller is not None and (request.link or request.monitor):
            caller.record_spawned(pid, request.link, request.monitor)
        return pid

    def _reuse(self, existing: PID, request: SpawnRequest, caller: Process | None) -> PID:
        """Spawn-or-signal found ``existing`` under the name: attach the caller, deliver the messages."""
        if caller is not None:
            for wanted, attach in ((request.monitor, _ops.monitor), (request.link, _ops.link)):
                if wanted:
                    try:
                        attach(caller, existing)
                    except errors.Error as err:
                        if err.kind() != errors.ALREADY_EXISTS:
                            raise
        self._send_start_messages(existing, request)
        if request.on_started is not None:
            request.on_started(existing)
        return existing

    def _send_start_messages(self, pid: PID, request: SpawnRequest) -> None:
        for message in request.messages:
            self.deliver(pid, (Signal.MSG, None, message.topic, message.payloads))

    def send(self, dest: PID | str, topic: str, *payloads: Any) -> None:
        """Send a message (fire and forget); the sender is the calling process, if any.

        Raises ``INVALID`` for a bad topic or an unencodable payload (nothing
        is delivered), ``NOT_FOUND`` for an unknown name or a dead process.
        """
        # This is the hottest path of the runtime: checks are inlined.
        if topic.__class__ is not str or not topic or topic[0] == "@":
            validate_topic(topic)
        if len(payloads) == 1:
            encoded: tuple[Any, ...] = (encode(payloads[0]),)
        else:
            encoded = tuple(map(encode, payloads))
        pid = dest if dest.__class__ is PID else self.resolve(dest)
        caller = getattr(_context, "process", None)
        item = (_MSG, caller.pid if caller is not None else None, topic, encoded)
        node = pid.node
        host = self._peers.get(node) if node and node != self.pid_node else self._hosts.get(pid.host)
        if host is None or not host.deliver(pid, item):
            raise errors.Error(errors.NOT_FOUND, f"process {pid} not found")

    def terminate(self, dest: PID | str) -> None:
        """Stop ``dest`` at its next step; its result error is "process terminated"."""
        pid = self.resolve(dest)
        caller = current_process()
        sender = caller.pid if caller is not None else None
        if not self.deliver(pid, (Signal.TERMINATE, sender)):
            raise errors.Error(errors.NOT_FOUND, f"process {pid} not found")

    def cancel(self, dest: PID | str, deadline: float | None = None, reason: str = "") -> None:
        """Ask ``dest`` to finish: a CANCEL event, then termination after ``deadline`` seconds."""
        pid = self.resolve(dest)
        caller = current_process()
        sender = caller.pid if caller is not None else None
        if deadline is not None:
            check_delay(deadline, "cancel deadline")  # out of range: INVALID before anything is delivered
        if deadline is not None and deadline < 0:
            raise errors.Error(errors.INVALID, f"cancel deadline must not be negative, got {deadline}")
        proc = self.process(pid)  # before delivering: it may be gone right after
        if not self.deliver(pid, (Signal.CANCEL, sender, reason, deadline, time.time())):
            raise errors.Error(errors.NOT_FOUND, f"process {pid} not found")
        if deadline is not None:
            timer = self.timers.call_later(deadline, lambda: self.deliver(pid, (Signal.TERMINATE, sender)))
            if proc is not None:
                proc.add_exit_callback(lambda _proc: timer.cancel())

    def wait(self, dest: PID | str, timeout: float | None = None) -> tuple[Any, errors.Error | None]:
        """Block until ``dest`` ends; its ``(value, error)``.  ``TIMEOUT`` error on timeout."""
        pid = self.resolve(dest)
        host = self._route(pid)
        if host is None:
            raise errors.Error(errors.NOT_FOUND, f"process {pid} not found")
        return host.wait(pid, timeout)

    def exec(self, target: Any, *args: Any, timeout: float | None = None, host: str | None = None) -> Any:
        """Spawn ``target``, wait for it, return its value or raise its error (from a plain thread).

        After ``timeout`` seconds the process is terminated and ``TIMEOUT`` raised:
        nobody waits for its result any more.
        """
        request = SpawnRequest(target, args, context=_inherit_context(current_process(), None))
        return self.run_request(request, host or self.default_host_id, timeout)

    def run_request(self, request: SpawnRequest, host_id: str, timeout: float | None = None) -> Any:
        """Spawn ``request`` and block until the process ends; its value, or its error raised."""
        done = threading.Event()
        outcome: list[Any] = []

        def finished(value: Any, error: errors.Error | None) -> None:
            outcome.append((value, error))
            done.set()

        request.on_exit = finished
        pid = self.spawn_request(request, host_id)
        if not done.wait(timeout):
            try:
                self.terminate(pid)
            except errors.Error:
                pass  # it ended meanwhile
            raise errors.Error(errors.TIMEOUT, f"process {pid} still running after {timeout} s: terminated")
        value, error = outcome[0]
        if error is not None:
            raise error
        return value

    # -- functions --------------------------------------------------------------------

    def register_function(self, function_id: str, function: Callable[..., Any]) -> None:
        """Make a Python callable reachable from Lua's ``funcs.call(function_id, ...)``.

        It runs on a small thread pool (it may block) with the arguments the
        Lua code passed; :func:`actors.call_context` gives the caller's context.
        """
        if not isinstance(function_id, str) or ":" not in function_id:
            raise errors.Error(errors.INVALID, f"function ID must be namespace:name, got {function_id!r}")
        self.functions[function_id] = function

    def run_function(
        self,
        function_id: str,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        context: dict[str, Any],
        done: Callable[[Any, errors.Error | None], None],
    ) -> None:
        """Run a registered function on the pool; ``done(value, error)`` when it returns."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=8, thread_name_prefix=f"{self.name}-functions"
                )
            executor = self._executor

        def run() -> None:
            token = _call_context.set(dict(context))
            try:
                value = function(*args)
            except errors.Error as err:
                done(None, err)
            except Exception as exc:
                logger.debug("function %s failed", function_id, exc_info=True)
                done(None, errors.from_exception(exc))
            else:
                try:
                    done(codec.copy(value), None)
                except errors.Error as err:
                    done(None, err)
            finally:
                _call_context.reset(token)

        executor.submit(run)

    # -- names ----------------------------------------------------------------------

    def register(self, name: str, dest: PID | str | None = None, scope: str | int = LOCAL) -> bool:
        """Register ``name`` for ``dest`` (default: the calling process) in ``scope`` (see
        :mod:`actors.names`; on a node of its own every scope is local)."""
        pid, proc = self._registrant(dest)
        return self.names.register_scoped(name, pid, proc, scope_name(scope))

    def register_later(self, name: str, dest: PID | str | None, scope: str | int, done: Completion) -> None:
        """:meth:`register` for a caller that must not hold its thread while a cluster scope
        goes round the network: ``done(True, None)`` or ``done(None, error)``, maybe from another thread."""
        try:
            pid, proc = self._registrant(dest)
            scope = scope_name(scope)
        except errors.Error as err:
            done(None, err)
            return
        self.names.register_later(name, pid, proc, scope, done)

    def unregister_later(self, name: str, scope: str | int, owner: PID | None, done: Completion) -> None:
        """:meth:`unregister` the same way: ``done(removed, None)`` or ``done(None, error)``."""
        try:
            scope = scope_name(scope)
        except errors.Error as err:
            done(None, err)
            return
        self.names.unregister_later(name, scope, owner, done)

    def _registrant(self, dest: PID | str | None) -> tuple[PID, Process | None]:
        if dest is None:
            caller = current_process()
            if caller is None:
                raise errors.Error(errors.INVALID, "register needs a PID outside a process")
            pid = caller.pid
        else:
            pid = self.resolve(dest)
        proc = self.process(pid)
        if proc is None and self.is_own(pid):
            raise errors.Error(errors.NOT_FOUND, f"process {pid} not found")
        return pid, proc

    def lookup(self, name: str) -> PID:
        return self.names.lookup(name)

    def whereis(self, name: str) -> PID | None:
        return self.names.whereis(name)

    def unregister(self, name: str, scope: str | int = LOCAL) -> bool:
        """Remove ``name`` from ``scope``; a cluster-wide name only by the process holding it
        (the calling one), or by anyone outside a process."""
        caller = current_process()
        return self.names.unregister_scoped(
            name, scope_name(scope), caller.pid if caller is not None else None
        )

    # -- statistics and lifecycle --------------------------------------------------------

    def process_count(self) -> int:
        """Live processes this node's hosts run in this OS process."""
        return sum(host.count() for host in self._hosts.values())

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every host (reverse order of creation), then the timer thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            hosts = list(self._hosts.values())
        for host in reversed(hosts):
            try:
                host.stop(timeout)
            except Exception:
                logger.exception("stopping host %s failed", host.id)
        self.timers.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"<Node {self.name} hosts={list(self._hosts)}>"


def validate_topic(topic: str) -> None:
    """Topics are non-empty strings not starting with ``@`` (reserved)."""
    if not isinstance(topic, str) or not topic:
        raise errors.Error(errors.INVALID, "topic must be a non-empty string")
    if topic.startswith("@"):
        raise errors.Error(errors.INVALID, f"cannot send to @ topics ({topic!r} is reserved)")


def _start_message(topic: str, payload: Any) -> StartMessage:
    validate_topic(topic)
    return StartMessage(topic, (codec.encode(payload),) if payload is not None else ())


def _inherit_context(caller: Process | None, extra: dict[str, Any] | None) -> dict[str, Any] | None:
    """The child's context: the caller's values, then ``extra`` (``None`` when empty)."""
    inherited = caller.context if caller is not None else None
    if not extra:
        return dict(inherited) if inherited else None
    context = dict(inherited) if inherited else {}
    context.update(extra)
    return context


_call_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "actors_call_context", default=None
)


def call_context() -> dict[str, Any]:
    """Inside a function registered with :meth:`Node.register_function`: the caller's context."""
    return dict(_call_context.get() or {})


_default_node: Node | None = None
_default_factory: Callable[[], Node] = Node
_default_lock = threading.Lock()


def set_default_factory(factory: Callable[[], Node]) -> None:
    """How :func:`default_node` makes a node (``actors`` installs ``actors.Node``)."""
    global _default_factory
    _default_factory = factory


def default_node() -> Node:
    """The node ``Actor.start()`` uses when no node is given (created on first use)."""
    global _default_node
    with _default_lock:
        if _default_node is None or _default_node._closed:
            _default_node = _default_factory()
        return _default_node
