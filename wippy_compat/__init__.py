"""wippy_compat: Wippy's app-level kinds and Lua modules on actorflow.

Wippy apps use more than processes: a terminal to talk to, databases,
queues, an event bus, environment variables, the registry, metrics.  This
package gives them, each as its Wippy page describes (``wippyai/docs``,
``en/lua/…``), values and errors returned as ``value, err``:

=================  ===========================================  ==========================
module             kinds                                        file
=================  ===========================================  ==========================
``io``             ``terminal.host``                            :mod:`.terminal`
``events``         —                                            :mod:`.events`
``env``            ``env.storage.*``, ``env.variable``          :mod:`.env`
``registry``       ``registry.entry``                           :mod:`.registry`
``sql``            ``db.sql.sqlite`` (+ migrations)             :mod:`.sql`, :mod:`.migrations`
``queue``          ``queue.driver.memory``, ``queue.queue``,    :mod:`.queue`
                   ``queue.consumer``
``metrics``        —                                            :mod:`.metrics`
``system``         —                                            :mod:`.system`
=================  ===========================================  ==========================

Importing the package registers the kinds (so ``actorflow check`` knows
them) and the modules; :func:`install` is the app extension that starts an
app's resources (terminal hosts, databases and their migrations, queues and
their consumers) and stops them with the app.  The modules reach the app
through the caller's node (:mod:`._context`); none is available in
workflows, since all of them touch the world outside.

Every resource a user can grow has a limit: queue lengths, rows of a query
result, open transactions, event subscriptions, metric series.
"""

from __future__ import annotations

from typing import Any

from actorflow._lifecycle import Lifecycle
from wippy_compat import env, events, metrics, migrations, registry, sql, system, terminal  # noqa: F401  (register)
from wippy_compat import queue as queue_module
from wippy_compat._context import AppResources, attach, detach

__all__ = ["AppResources", "install"]


class _Resources:
    """The app's Wippy resources as one unit (terminal hosts, databases migrated, queues)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.id = "wippy:resources"
        self.provides = frozenset({self.id})
        self.requires = frozenset({app.default_host_id})
        self.lifecycle = Lifecycle()
        self.resources: AppResources | None = None

    def start(self) -> None:
        app = self.app
        resources = self.resources = AppResources(app)
        attach(resources)
        try:
            terminal.start_hosts(app)
            env.start(resources)
            sql.start(resources)
            queue_module.start(resources)
        except BaseException:
            self.stop(0)
            raise

    def stop(self, timeout: float) -> None:
        resources, self.resources = self.resources, None
        if resources is None:
            return
        try:
            resources.close()
        finally:
            detach(resources)


def install(app: Any) -> list[Any]:
    """The app extension: the units of the app's Wippy resources."""
    return [_Resources(app)]
