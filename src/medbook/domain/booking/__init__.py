"""Booking: appointments, the booking rules, leave and the sessions on offer."""
