"""TLS over any stream transport: engine, states, application end, transport, protocol."""
