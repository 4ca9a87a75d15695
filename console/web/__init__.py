"""The console's web pages: server-rendered (Jinja2, autoescaped), in Vietnamese and English, no script at all."""
