"""The Dockyard agent: makes one host run what the control plane wants it to run.

How the pieces fit (each module explains itself):

* ``registration`` + ``host`` + ``state_dir``: the host registers as a container instance
  (the same one after every restart) and learns where its WebSocket is.
* ``channel``: the WebSocket; every state frame carries the *whole* desired state.
* ``engine`` + ``sync``: each frame is compared, level-triggered, with the labelled
  containers on the host; every task gets exactly one owner (``task_owner``).
* ``reconcile``: the pure decisions (ordered statuses, next step from known, desired and
  dependencies), mapped by the owner onto driver calls (``drivers.docker`` | ``drivers.process``).
* ``reporter`` and ``logs``: what happened goes back up as ECS state changes, health and
  log frames (a task's output is on the socket before its STOPPED report).
* ``update``: UpdateContainerAgent carried out: stage the control plane's code, exec into it.
"""
