"""Notifications: what a user is told, in their inbox."""
