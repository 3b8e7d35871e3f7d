# BPTT Studio: the web app and JSON API on Debian's own Python.
#   docker build -t bptt-studio . && docker run -p 8000:8000 bptt-studio
# Runtime settings are environment variables: PORT (default 8000), WEB_CONCURRENCY (uvicorn
# workers, default 1), LOG_LEVEL, and the BPTT_* limits and CORS origins (see README, "Docker").
FROM debian:bookworm-slim

# ca-certificates: Debian's pip checks TLS against the system bundle while installing packages.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PORT=8000

RUN python3 -m venv /opt/venv

WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so that a change to the code (or to the
# README) reuses this layer. Only [project].dependencies: the dev extras stay out of the image.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the code. The project is installed in editable mode so that the app finds templates/
# and static/ beside app/ in /app; --no-deps: everything it needs is already installed above.
COPY README.md ./
COPY app ./app
COPY engine ./engine
COPY static ./static
COPY templates ./templates
RUN pip install --no-cache-dir --no-deps -e . \
    && python -m compileall -q app engine

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import json, os, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/api/v1/health' % os.environ.get('PORT', '8000'), timeout=4); raise SystemExit(json.load(r).get('status') != 'ok')"]

# bptt-studio serve reads PORT and WEB_CONCURRENCY from the environment.
CMD ["bptt-studio", "serve", "--host", "0.0.0.0"]
