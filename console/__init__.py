"""The operators' console: an authenticated admin API (FastAPI, OpenAPI 3) on its own listener.

    tables       accounts, sessions, API tokens, failed logins, the audit trail and its seals
    roles        who may do what (deny by default)
    accounts     operator accounts: argon2id passwords, disabling, API tokens
    sessions     login sessions (cookies with expiry and a CSRF token) and login throttling
    audit        the hash-chained, append-only audit trail, its verification and its signed seals
    auth         FastAPI dependencies: who is asking, and may they
    api/         the endpoints, one module per subject
    app          the FastAPI application
    server       the `console` component: uvicorn, and the daily seal of the audit trail
"""
