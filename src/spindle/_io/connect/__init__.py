"""The loop's connection methods: connections, servers, datagram endpoints, pipes, sendfile."""
