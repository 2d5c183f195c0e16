"""The patient's health file: vital signs (and, next, medical records and their shares), and the
log of who else read any of it."""
