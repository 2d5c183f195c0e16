"""Use cases: each takes a unit of work and ports, calls the domain, commits."""

from medbook.services.booking import BookingService, LeaveTaken
from medbook.services.directory import DirectoryService

__all__ = ["BookingService", "DirectoryService", "LeaveTaken"]
