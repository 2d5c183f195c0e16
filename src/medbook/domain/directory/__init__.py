"""The hospital directory: hospital → department → doctor."""
