"""The files context's unit of work (its other ports are ``storage`` and ``images``)."""

from __future__ import annotations

from typing import Protocol

from medbook.ports.directory import DirectoryReads
from medbook.ports.transaction import Transaction


class FilesUnitOfWork(DirectoryReads, Transaction, Protocol):
    """An avatar is a doctor's: setting one writes the doctor's profile."""
