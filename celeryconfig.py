"""Celery's fixed settings. Those that come from the environment (broker, time limits, beat intervals, ...)
are added by app.config.Settings.celery_config()."""

from kombu import Exchange, Queue

from app.jobcore.routing import QueueName

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
enable_utc = True  # the display time zone comes from CELERY_TIMEZONE through the settings

# A job is acknowledged only once it has finished, so a worker that dies mid-job leaves it queued
# for another worker instead of losing it; prefetch 1 keeps long jobs from hoarding short ones.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1

task_default_queue = QueueName.DEFAULT.value
# Each queue gets its own exchange and routing key: queues declared by name alone would share the
# default binding, and a message routed to one would be copied into all of them.
task_queues = tuple(
    Queue(name.value, Exchange(name.value, type="direct"), routing_key=name.value) for name in QueueName
)
task_routes = {
    "app.tasks.ansible.*": {"queue": QueueName.ANSIBLE.value},
    "app.tasks.vms.*": {"queue": QueueName.VMS.value},
}

# Flower and the ops page read these events.
worker_send_task_events = True
task_send_sent_event = True
task_track_started = True
result_expires = 24 * 3600
broker_connection_retry_on_startup = True

# Fail fast when the broker is down at submit time: the job is marked "failed to queue" at once.
task_publish_retry_policy = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
broker_connection_timeout = 2
