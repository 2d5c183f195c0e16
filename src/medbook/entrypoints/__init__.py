"""The edges: command line, HTTP and chat. They call ``medbook.bootstrap`` and the services."""
