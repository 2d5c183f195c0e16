"""Consultation chat: conversations between one patient and one doctor, their messages, the rule
of who may start one, and read receipts."""
