"""Calendar feeds: a patient's or doctor's appointments (and a patient's home-visit orders) as a
secret, revocable iCalendar (RFC 5545) URL their calendar app subscribes to."""
