"""ECS services: the actions (``actions``, ``queries``, ``deployment_queries``), what a
service and its deployments look like on the wire (``views``), the scheduler that keeps them
running (``rollout`` decides, ``scheduler`` acts, ``controller`` runs it on the runtime) and
the wake-ups other modules send it (``wake``)."""
