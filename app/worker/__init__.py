"""The worker side: the job runtime, playbook runs, VM actions and reconcile.

Imports the job core and the engines (app.ansible, app.providers), never a blueprint; the Celery tasks in
app.tasks call these with ids.
"""
