"""The HTTP request pipeline: middleware, transport, rate limits, routing, OpenAPI links."""
