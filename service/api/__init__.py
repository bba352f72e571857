"""The routers, one per domain; `routers` is what the app includes, in this order."""

from . import console, datasets, jobs, models, system

routers = [datasets.router, jobs.router, models.router, system.router, console.router]

__all__ = ["routers"]
