"""The control plane's side of the agent channel (see docs/agent-protocol.md)."""
