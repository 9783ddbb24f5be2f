"""Enqueue Celery tasks after commit without letting a broker outage fail the request that stored the data.

A push whose records are committed must be answered 200 with its counts: a broker that refuses
the task (Redis down: kombu's ``OperationalError`` after its short publish retries) is logged
and counted (``portal_broker_enqueue_failures_total``), and the records wait for the next
scoring that covers their members. Without a broker (tasks inline) nothing is caught: the task
runs in the caller and its errors propagate, as the tests and ``make run`` expect.
"""

from __future__ import annotations

import logging
from functools import partial

from celery import Signature, Task
from django.db import transaction
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from campaign.observability import counter_add

BROKER_ERRORS = (KombuError, RedisError, OSError)
log = logging.getLogger("campaign.queueing")


def task_enqueue(task: Task, *args) -> bool:
    """Send ``task(*args)`` to the broker now; False (logged, counted) when the broker refuses it."""
    if task.app.conf.task_always_eager:
        task.apply_async(args)
        return True
    return signature_enqueue(task.s(*args))


def signature_enqueue(signature: Signature) -> bool:
    """Send a task signature or a group to the broker; False (logged, counted) when the broker refuses it."""
    try:
        signature.apply_async()
    except BROKER_ERRORS as exc:
        counter_add("broker_enqueue_failures")
        log.error("the broker refused %s (%s): %s", signature, type(exc).__name__, exc)
        return False
    return True


def task_enqueue_on_commit(task: Task, *args) -> None:
    """``task_enqueue`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(task_enqueue, task, *args))
