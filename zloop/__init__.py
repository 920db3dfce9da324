"""zloop: ZeroMQ in pure Python, built for event loops."""

from zloop import _adapters_path

__version__ = "0.1.0.dev0"

_adapters_path.install()
