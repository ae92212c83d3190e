"""Token sessions: argon2 password hashes, stateless access JWTs, rotating refresh tokens."""
