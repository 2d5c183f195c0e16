"""In-memory adapters: the fakes behind the unit tests, and a store for embedded use."""

from medbook.adapters.memory.clock import ManualClock
from medbook.adapters.memory.unit_of_work import MemoryStore, MemoryUnitOfWork

__all__ = ["ManualClock", "MemoryStore", "MemoryUnitOfWork"]
