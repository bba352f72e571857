"""HTTP service for sparse coding: datasets, fit jobs on Dask, models and encoding.

`service` depends on `solvers`, never the other way round. Start it with `sparsecoding serve`
(or `python -m service.serve`); build the ASGI app with `service.app.create_app(settings)`.
"""
