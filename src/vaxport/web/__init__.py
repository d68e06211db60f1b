"""Server-rendered pages: one module per audience, Jinja2 templates, our own CSS."""
