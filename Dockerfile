# CPU image of sparsecoding: the API (`sparsecoding serve`), the Dask scheduler and the CPU
# workers (docker-compose.yml); GPU workers use Dockerfile.gpu. docs/deployment.md says how to
# build and run it.
#
#   docker build -t sparsecoding .                                               # python:3.11-slim
#   docker build --build-arg BASE_IMAGE=debian:bookworm-slim -t sparsecoding .   # Debian's Python
#
# BASE_IMAGE is any Debian-based image: one with Python 3.11+ and its venv module is used as
# it is, on one without (a plain Debian) Debian's python3 is installed. The install step is
# the README's, word for word; the CPU kernels are compiled into the image at build time.
#
# One stage, in layers from the least to the most often changed: the dependencies (hundreds
# of MB) are a layer of their own, rebuilt only when a pyproject.toml changes, so that a new
# version of the sources rebuilds, pushes and pulls a few MB.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# Python with venv, and the CA bundle pip's TLS needs (Debian's pip takes the system one).
RUN if ! python3 -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
        || [ ! -e /etc/ssl/certs/ca-certificates.crt ]; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            $(python3 -c 'import ensurepip, venv' 2>/dev/null || echo python3 python3-venv) ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi
# One user for both images of the deployment (Dockerfile, Dockerfile.gpu): they share /data.
# The code and the venv belong to root, read-only to the service; numba's cache is the user's
# (kernels for a CPU other than the build machine's are compiled there on first use).
ARG APP_UID=10001
RUN useradd --uid "$APP_UID" --user-group --create-home --shell /usr/sbin/nologin sparsecoding \
    && mkdir -p /data /app/numba-cache && chown sparsecoding:sparsecoding /data /app/numba-cache
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/app/.venv/bin:$PATH \
    NUMBA_CACHE_DIR=/app/numba-cache \
    SPARSECODING_DATA_DIR=/data
WORKDIR /app

# PIP_CERT: another CA bundle for pip during the build (a TLS-inspecting proxy's;
# scripts/container-images passes the host's, mounted for the build only).
ARG PIP_CERT=/etc/ssl/certs/ca-certificates.crt
# The dependencies, read from the two pyproject.toml files, without their test suites (90 MB).
COPY pyproject.toml ./
COPY openapi/clients/python/pyproject.toml ./openapi/clients/python/
RUN python3 -c "import tomllib; files = ('pyproject.toml', 'openapi/clients/python/pyproject.toml'); print('\n'.join(d for f in files for d in tomllib.load(open(f, 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && python3 -m venv .venv && .venv/bin/pip install -r /tmp/requirements.txt \
    && find .venv -depth -type d -name tests -exec rm -rf {} + && rm /tmp/requirements.txt

COPY README.md ./
COPY solvers ./solvers
COPY service ./service
COPY openapi/clients/python ./openapi/clients/python
RUN python3 -m venv .venv && .venv/bin/pip install -e . -e openapi/clients/python
RUN python3 -m compileall -q solvers service openapi/clients/python
# numba's machine code of every CPU kernel, for this machine's CPU: a fresh container's first
# job starts at once.
USER sparsecoding
RUN sparsecoding compile-kernels && python3 -c "import solvers; assert solvers.kernels_cached()"

# /data is the data directory: mount a volume there (docker-compose.yml's `data`). It is not
# declared a VOLUME, which would give every container that does not mount it (the scheduler,
# a one-off command) an anonymous volume left behind after it.
ENV PYTHONDONTWRITEBYTECODE=1 \
    HEALTHCHECK_URL=http://127.0.0.1:8000/healthz
EXPOSE 8000 8786 8787
# The default command's health (the API's); docker-compose.yml gives the scheduler and the
# workers checks of their own (or set HEALTHCHECK_URL).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
    CMD ["python3", "-c", "import os, urllib.request as u; u.urlopen(os.environ['HEALTHCHECK_URL'], timeout=3)"]
CMD ["sparsecoding", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
