"""IoT jobs and job executions: the API side of the job engine (``dockyard/jobs``)."""
