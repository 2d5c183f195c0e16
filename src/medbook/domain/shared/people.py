"""What the kernel knows of people: their sex, as a resident identity number or a doctor's
profile states it (one enum: the two were the same values twice)."""

from __future__ import annotations

import enum


class Sex(enum.Enum):
    FEMALE = "female"
    MALE = "male"
