"""The REST protocols of AWS (rest-json now, rest-xml next), driven by botocore's models.

One front-end per service, built at start-up from its model alone:

- ``router``: each operation's ``http.method`` and ``requestUri`` compiled into a matcher
  (labels, greedy ``{key+}`` labels, literal query keys such as ``?acl``);
- ``request``: the members bound to the URI, the query string and headers, read by walking the
  input shape, the rest from the body through the protocol's body codec (``json_body``);
- ``response``: the output shape walked the other way (headers, status code, payload, body);
- ``errors``: error classes whose HTTP status and code come from the model's error shapes;
- ``pipeline`` and ``endpoint``: the steps of one request, with authentication pluggable per
  front-end, and the ASGI entry that picks the front-end from the SigV4 scope's service.

Nothing here knows IoT: a new REST API is its model name, its error module and its domain
modules (``app.py``).
"""
