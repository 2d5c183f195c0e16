"""medbook: Internet + healthcare as a hexagonal Python library with HTTP and chat services."""

__version__ = "0.1.0"
