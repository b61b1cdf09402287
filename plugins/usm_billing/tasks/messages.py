"""Billing messages: ``msg_add`` each one not sent yet, or, in a backfill run, those of its
data interval (universal-api.md §3.14, contract §5.5, §8 N1).

Delivery is **at-least-once**: a message is recorded as sent only after UserSide
acknowledged it. A message whose reply was lost, or that was sent just before the worker
died, is sent again by the retry or the next run; none is ever skipped. The other choice,
at-most-once (record, then send), would lose the message for good whenever the worker dies
between the two, and nothing could tell afterwards. A repeat is the lesser harm: the PHP
module sends every message on every run (contract §8 N1), so a UserSide that works with it
already receives repeated ``billing_msg_id`` values; whether it drops them is UNKNOWN
(contract §5.5), so at worst a customer sees one message twice. The record is saved every
:data:`SAVE_EVERY` messages and whenever the task stops in Python (an error, Airflow's
SIGTERM), so the repeat is the one message in flight; only a SIGKILL repeats up to
:data:`SAVE_EVERY`. The record belongs to one UserSide (:class:`MessageStore` stores its
identity and refuses another's).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from usm_billing.state_store import MessageStore
from usm_billing.sync.changes import MessageChanges
from usm_billing.sync.messages import select_messages
from usm_billing.tasks.writes import Writes

if TYPE_CHECKING:
    from usm_billing.tasks.context import RunContext
    from usm_billing.tasks.results import CustomerResult, LoadResult
    from usm_billing.userside.customers import UsView

__all__ = ["SAVE_EVERY", "diff", "load"]

log = logging.getLogger(__name__)
SAVE_EVERY = 50  # msg_add requests between two saves of the message record


def diff(ctx: RunContext, userside: UsView, customers: CustomerResult | None) -> MessageChanges:
    """The messages to send. The ids already sent come from ``<state_path>/<billing_id>/
    messages.json``; ``customers`` gives the ids of customers created in this run."""
    config = ctx.config
    if not config.import_message:
        return MessageChanges()
    if config.billing_name != "standart":
        log.info("Messages: the %s dialect has none (spec §4.5)", config.billing_name)
        return MessageChanges()
    messages = ctx.billing.get_user_messages(timezone=config.billing_timezone)
    only = ctx.params.customer_id
    if only is not None:
        messages = [m for m in messages if m.customer == only]
    state = MessageStore(config, userside=ctx.userside.identity).load()
    us_ids = {k: c.us_id for k, c in userside.customers.items()}
    us_ids.update(customers.customer_ids if customers is not None else {})
    interval = ctx.params.message_interval
    adds, unknown = select_messages(messages, us_ids, state, interval=interval)
    changes = MessageChanges(
        enabled=True,
        adds=tuple(adds),
        interval=interval,
        billing_messages=len(messages),
        already_sent=sum(1 for m in messages if m.id in state.sent),
        unknown_customer=unknown,
    )
    log.info("Message changes: %s", changes.summary())
    return changes


def load(ctx: RunContext, changes: MessageChanges) -> LoadResult:
    """``msg_add`` each planned message not yet in the record, saving the record every
    :data:`SAVE_EVERY` messages and whenever the task stops, so a retry or the next run
    resumes without sending a message twice. An outage (after the hook's own retries)
    stops the task for Airflow to retry; a refused message is reported."""
    writes = Writes("messages", ctx.userside, dry_run=ctx.params.dry_run)
    if ctx.params.dry_run or changes.is_empty:
        return writes.result(changes.summary(), sent=0)
    store = MessageStore(ctx.config, userside=ctx.userside.identity)
    state = store.load()
    sent = unsaved = 0
    try:
        for add in changes.adds:
            if add.billing_msg_id in state.sent:  # sent by an earlier try of this task
                continue
            done = writes.attempt(
                f"message {add.billing_msg_id}",
                partial(
                    ctx.userside.customer_msg_add,
                    add.customer_id,
                    add.text,
                    billing_msg_id=add.billing_msg_id,
                    billing_msg_date=add.billing_msg_date,
                ),
                outage_fails_task=True,
            )
            if done is None:
                continue
            state.sent.add(add.billing_msg_id)
            sent += 1
            unsaved += 1
            if unsaved >= SAVE_EVERY:
                store.save(state)
                unsaved = 0
            writes.progress(sent, len(changes.adds))
    finally:
        if unsaved:
            store.save(state)
    return writes.result(changes.summary(), sent=sent)
