"""The routers, one per domain; `routers` is what the app includes, in this order."""

from . import datasets, jobs, models, system

routers = [datasets.router, jobs.router, models.router, system.router]

__all__ = ["routers"]
