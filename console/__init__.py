"""The operators' console: an authenticated admin API (FastAPI, OpenAPI 3) and pages, on its own listener.

    tables       accounts, sessions, API tokens, failed logins, the audit trail and its seals, alert acknowledgements
    roles        who may do what (deny by default)
    accounts     operator accounts: argon2id passwords, disabling, API tokens
    sessions     login sessions (cookies with expiry and a CSRF token) and login throttling
    audit        the hash-chained, append-only audit trail, its verification and its signed seals
    actions      what operators do (resend, re-drive, acknowledge, suspend), each with its audit record
    search       the paged, indexed searches;  dashboard  the dashboard's grouped figures;  probes  health
    auth         FastAPI dependencies: who is asking, and may they
    api/         the JSON endpoints, one module per subject
    web/         the pages: templates, the Vietnamese catalogue, the stylesheet, SVG charts
    app          the FastAPI application
    server       the `console` component: uvicorn, and the daily seal of the audit trail
"""
