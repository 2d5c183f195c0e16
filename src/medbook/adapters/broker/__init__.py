"""Brokers of the chat server: in-process (one ``medbook chat`` process) and Redis pub/sub."""

from medbook.adapters.broker.local import LocalBroker
from medbook.adapters.broker.redis import RedisBroker

__all__ = ["LocalBroker", "RedisBroker"]
