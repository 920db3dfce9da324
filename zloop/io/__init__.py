"""Layer 3: the I/O thread (reactor, transports, stream engines) and the signal fds."""
