"""Users, roles, teams, permissions, sessions, API tokens and login throttling."""
