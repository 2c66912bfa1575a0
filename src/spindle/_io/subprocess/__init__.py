"""Child processes: the loop's subprocess methods, their transport, and the child watcher."""
