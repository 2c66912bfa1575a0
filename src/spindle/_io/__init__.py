"""spindle's I/O layer: the poller, the thread-safe wake-up, and the loop that uses them."""
