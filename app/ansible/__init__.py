"""Plain-Python Ansible layer: run playbooks, parse inventories, render ANSI output (no Flask/Celery/SQL)."""
