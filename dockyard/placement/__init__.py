"""Task placement: a pure function from a snapshot of the instances and a request to placements.

``model`` holds the immutable inputs (instance snapshots, the demand of one task), ``filters``
the feasibility checks (each answers "can this instance take this task?" with a reason),
``engine`` the pipeline that chains them and picks an instance per task.
"""
