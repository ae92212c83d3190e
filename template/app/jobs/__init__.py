"""Background jobs: outbox -> relay -> broker -> worker -> handler, with retries and a DLQ.

A write enqueues a job with ``app.jobs.outbox.enqueue(session, job, payload)`` inside its own
transaction; the relay publishes committed rows to the broker named by BROKER_URL, and
``python -m app.jobs.worker`` (or the app itself on the in-process broker) runs the handlers.
"""
