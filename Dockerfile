# BPTT Studio: the web app and JSON API on Debian's own Python.
#   docker build -t bptt-studio . && docker run -p 8000:8000 bptt-studio
# Runtime settings are environment variables: PORT (default 8000), WEB_CONCURRENCY (uvicorn
# workers, default 1), LOG_LEVEL, and the BPTT_* limits and CORS origins (see README, "Docker").
#
# Two stages. The first installs the locked runtime set (requirements/run.txt, every file
# checked against its sha256) into /opt/venv and builds the project's wheel with the locked
# setuptools; it installs that wheel, never the source tree. The second is Debian's Python and
# that venv alone: no pip, no compiler, no sources. Two builds of one commit install the same
# packages, byte for byte (Debian's own python3 aside: the bookworm release is its pin).

FROM debian:bookworm-slim AS build

# ca-certificates: Debian's pip checks TLS against the system bundle while installing packages.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# SOURCE_DATE_EPOCH: the wheel's files carry this date instead of the checkout's, so the same
# sources always give the same wheel.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SOURCE_DATE_EPOCH=315532800

# The lock files first, so that a change to the code (or to the README) reuses these layers.
# /opt/build holds the build tools (pip, the locked setuptools); /opt/venv, without pip of its
# own, receives the runtime set and then the wheel.
WORKDIR /src
COPY requirements/run.txt requirements/build.txt ./requirements/
RUN python3 -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir --require-hashes -r requirements/build.txt \
    && python3 -m venv --without-pip /opt/venv \
    && /opt/build/bin/pip --python /opt/venv/bin/python install --no-cache-dir \
        --require-hashes -r requirements/run.txt

# Then the code: built into a wheel, installed without dependencies (they are all there).
COPY pyproject.toml README.md ./
COPY app ./app
COPY engine ./engine
COPY static ./static
COPY templates ./templates
COPY vendor ./vendor
RUN /opt/build/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation \
        --wheel-dir /src/dist . \
    && /opt/build/bin/pip --python /opt/venv/bin/python install --no-cache-dir --no-deps \
        --no-index --find-links /src/dist bptt-studio


FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/*

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8000

COPY --from=build /opt/venv /opt/venv

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import json, os, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/api/v1/health' % os.environ.get('PORT', '8000'), timeout=4); raise SystemExit(json.load(r).get('status') != 'ok')"]

# bptt-studio serve reads PORT and WEB_CONCURRENCY from the environment.
CMD ["bptt-studio", "serve", "--host", "0.0.0.0"]
