"""Where reminders go besides the inbox. ``LogChannel`` writes a line per reminder: development
and the demo; an SMS or WeChat template-message adapter implements the same port
(``ports.reminders.ReminderChannel``)."""

from __future__ import annotations

import logging

from medbook.domain.notifications.model import Notification

log = logging.getLogger("medbook.reminders.channel")


class LogChannel:
    """One log line per reminder: the patient's and appointment's ids and the reminder's kind,
    never a name (logs are read by more people than the patient chose)."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self.logger = logger

    def send(self, notification: Notification) -> None:
        self.logger.info(
            "reminder %s of appointment %s to patient %s",
            notification.data.get("reminder"),
            notification.data.get("appointment_id"),
            notification.recipient_id,
        )
