"""kombu's Redis transport, made to survive the broker going away while a job runs.

Celery 5.7.0 (with kombu 5.7.0, the newest of both) handles a lost broker connection by collecting the
connection and then closing it; closing the channel restores the messages its worker has not acknowledged
yet (with `task_acks_late`: every running job), and that restore asks the already-collected connection for
its address, raising AttributeError. `ignore_errors` lets it through, so the worker dies ("Unrecoverable
error") instead of reconnecting; and once it has reconnected, the job that kept running acknowledges its
message through the old channel and kills the worker the same way. Here both are skipped when the
connection is gone: the messages stay in the broker's unacked set, and kombu puts them back on their queue
after the visibility timeout, where a job that already ended is skipped (tasks are safe to deliver twice).

Used for `redis://` broker URLs only (celery_config in app/config.py names it).
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis

log = logging.getLogger(__name__)


class QoS(redis.QoS):
    """Unacked-message bookkeeping that does not fail once its connection has been collected."""

    def _orphaned(self, what: str, count: int) -> bool:
        """True (and logged) when this channel's connection is gone; the broker keeps the messages."""
        connection = self.channel.connection
        if connection is not None and connection.client is not None:
            return False
        log.warning("broker connection lost: %s %d message(s) left for redelivery after the timeout", what, count)
        return True

    def restore_unacked(self, client: Any = None) -> None:
        """Put unacked messages back now, or leave them for the visibility timeout when there is no connection."""
        if client is None and self._orphaned("restoring", len(self._delivered)):
            self._delivered.clear()
            return
        super().restore_unacked(client)

    def ack(self, delivery_tag: Any) -> None:
        """Acknowledge, unless the message came through a connection that is gone (it is redelivered, then)."""
        if self._orphaned("acknowledging", 1):
            self._delivered.pop(delivery_tag, None)
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        """Reject, unless the message came through a connection that is gone (as for ack)."""
        if self._orphaned("rejecting", 1):
            self._delivered.pop(delivery_tag, None)
            return
        super().reject(delivery_tag, requeue=requeue)


class Channel(redis.Channel):
    """kombu's Redis channel with the QoS above."""

    QoS = QoS


class Transport(redis.Transport):
    """kombu's Redis transport with the channel above."""

    Channel = Channel
