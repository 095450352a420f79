"""Celery settings (broker and result URLs come from the app config: REDIS_URL)."""

from kombu import Exchange, Queue

from app.config import env_int

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
enable_utc = True  # timezone itself comes from CELERY_TIMEZONE via the app config

# A job is acknowledged only once it has finished, so a worker that dies mid-job leaves it queued
# for another worker instead of losing it; prefetch 1 keeps long jobs from hoarding short ones.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
worker_max_tasks_per_child = env_int("CELERY_MAX_TASKS_PER_CHILD", 50, minimum=1)
task_soft_time_limit = env_int("TASK_SOFT_TIME_LIMIT", 25 * 60, minimum=1)
task_time_limit = env_int("TASK_TIME_LIMIT", 30 * 60, minimum=2)

task_default_queue = "default"
# Each queue gets its own exchange and routing key: queues declared by name alone would share the
# default binding, and a message routed to one would be copied into all of them.
QUEUE_NAMES = ("default", "ansible", "vms")
task_queues = tuple(Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUE_NAMES)
task_routes = {
    "app.tasks.ansible.*": {"queue": "ansible"},
    "app.tasks.vms.*": {"queue": "vms"},
}

# Flower and the ops page read these events.
worker_send_task_events = True
task_send_sent_event = True
task_track_started = True
result_expires = 24 * 3600
broker_connection_retry_on_startup = True
# Redis redelivers an unacked message after this long; it must outlast the longest job.
broker_transport_options = {"visibility_timeout": task_time_limit + 600}
result_backend_transport_options = {"visibility_timeout": task_time_limit + 600}

# Beat only ticks housekeeping; the reaper also re-queues jobs that wait for a lock.
beat_schedule = {
    "reap-lost-jobs": {"task": "app.tasks.ops.reap", "schedule": env_int("REAPER_INTERVAL", 30, minimum=5)},
    "reconcile-vms": {"task": "app.tasks.vms.reconcile", "schedule": env_int("VM_RECONCILE_INTERVAL", 60, minimum=5)},
}
# Fail fast when the broker is down at submit time: the job is marked "failed to queue" at once.
task_publish_retry_policy = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
broker_connection_timeout = 2
