"""The transports: the lifecycle and write buffer they share, stream and datagram sockets, pipes."""
