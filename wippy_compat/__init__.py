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
them) and the modules; :func:`install` is the app extension: it returns the
units of the app's resources (terminal hosts, env storages, databases and
their migrations, queue drivers, queues and consumers, see :mod:`._units`),
which the app starts in dependency order and stops in reverse.  The
modules reach the app through the caller's node (:mod:`._context`); none
is available in workflows, since all of them touch the world outside.

Every resource a user can grow has a limit: queue lengths, rows of a query
result, open transactions, event subscriptions, metric series.
"""

from __future__ import annotations

from typing import Any

from wippy_compat import env, events, metrics, migrations, registry, sql, system, terminal  # noqa: F401  (register)
from wippy_compat import queue as queue_module
from wippy_compat._context import AppResources
from wippy_compat._units import ContextUnit

__all__ = ["AppResources", "install"]


def install(app: Any) -> list[Any]:
    """The app extension: the context, then a unit per resource entry (the app orders them)."""
    context = ContextUnit(app)
    return [
        context,
        *terminal.terminal_units(app),
        *env.env_units(app, context),
        *sql.database_units(app, context),
        *queue_module.queue_units(app, context),
    ]
