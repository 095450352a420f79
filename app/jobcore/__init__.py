"""The job core: statuses and their transitions, submitting, locks, cancel, lost jobs, VM state and queries.

Plain code over the models: no Flask request, no current_user (callers pass the actor), no Celery task imports.
Import the submodules themselves; this package file stays empty so that the models can import `status`.
"""
