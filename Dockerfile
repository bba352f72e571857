# CPU image of sparsecoding: the API (`sparsecoding serve`) and Dask scheduler/workers alike.
# GPU workers use Dockerfile.gpu. The install step is the README's, word for word.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    PATH=/app/.venv/bin:$PATH

WORKDIR /app
COPY pyproject.toml README.md ./
COPY solvers ./solvers
COPY service ./service
COPY openapi/clients/python ./openapi/clients/python
RUN python3 -m venv .venv && .venv/bin/pip install -e . -e openapi/clients/python

RUN useradd --create-home --uid 1000 sparsecoding \
    && mkdir -p /data && chown sparsecoding /data
USER sparsecoding
VOLUME ["/data"]
EXPOSE 8000 8786 8787

CMD ["sparsecoding", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
