"""actorflow: app wiring and the ``actorflow`` command."""
