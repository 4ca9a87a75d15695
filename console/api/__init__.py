"""The admin API, /admin/api/v1/...: one router per subject, each endpoint guarded by one permission."""
