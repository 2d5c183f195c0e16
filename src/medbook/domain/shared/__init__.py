"""The shared kernel: ids and entities, the error table, text and phone rules, positions, the
calendar (periods, sessions, weekly schedules) and who acts (roles, the actor)."""
