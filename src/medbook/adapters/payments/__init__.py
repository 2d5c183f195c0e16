"""Payment gateways behind ``medbook.ports.payments.PaymentGateway``."""

from medbook.adapters.payments.sandbox import SandboxGateway, UnconfiguredGateway

__all__ = ["SandboxGateway", "UnconfiguredGateway"]
