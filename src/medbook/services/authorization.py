"""Who may do what: role and ownership checks, used by every service method that takes an actor."""

from __future__ import annotations

from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import Forbidden


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise Forbidden(f"only a {allowed} may do this")


def require_admin_of(actor: Actor, hospital_id: int | None) -> None:
    """The actor must be an administrator of that hospital."""
    require_role(actor, Role.ADMIN)
    if hospital_id is None or actor.hospital_id != hospital_id:
        raise Forbidden("only an administrator of that hospital may do this")
