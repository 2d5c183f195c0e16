"""HL7 FHIR R4 for hospital systems: medbook's directory, schedules, slots, appointments,
patients and vital signs as FHIR resources, searched and booked through the same services as the
v1 API. Usable without HTTP (``FhirServer``); ``entrypoints.http.fhir`` serves it under
``/fhir/R4/``.
"""

from medbook.entrypoints.fhir.outcome import of_fhir_error, of_problem, operation_outcome
from medbook.entrypoints.fhir.search import FhirError
from medbook.entrypoints.fhir.server import KINDS, FhirServer, capability_statement

__all__ = [
    "KINDS",
    "FhirError",
    "FhirServer",
    "capability_statement",
    "of_fhir_error",
    "of_problem",
    "operation_outcome",
]
