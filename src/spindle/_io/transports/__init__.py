"""The transports: the lifecycle, read side and write buffer they share, the policies every
transport keeps (``policy``), and the stream sockets, datagram sockets and pipes built on them."""
