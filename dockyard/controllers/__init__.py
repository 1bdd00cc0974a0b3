"""Background work of the control plane: loops that run beside the request path."""
