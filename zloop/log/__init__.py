"""Logging over ZeroMQ, as ``zmq.log``: :mod:`zloop.log.handlers` (``PUBHandler``, ``TopicLogger``)
publishes log records; ``python -m zloop.log URL`` prints what a ``PUBHandler`` publishes."""
