"""Notifications: templates, destination checks and delivery channels.

Channels (SMTP, SMS over HTTP, Twilio, webhooks, AWS SNS, console) share one interface,
:class:`~vaxport.notifications.channels.base.Channel`: ``await channel.send(message)``
returns a :class:`~vaxport.notifications.channels.base.SendResult` saying sent,
transient failure (retry) or permanent failure. Dispatch through the outbox lives
elsewhere; nothing here queues or retries.
"""
