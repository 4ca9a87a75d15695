"""The HTTP front of the doors: gunicorn processes running uvicorn's event loop, which reads whole
requests under deadlines before a thread runs the (WSGI) doors on them."""
