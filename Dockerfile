# syntax=docker/dockerfile:1
# The API as a container image: `docker build -t oop-fastapi-backend .`
# See docs/DEPLOYMENT.md for the settings a production container needs.

# --- builder: a virtualenv with the runtime dependencies and the project's wheel ---
FROM python:3.11-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv
WORKDIR /src

# The dependencies first, read from [project] dependencies only (never the dev
# extras), so a change to the code reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# A real wheel, not an editable install: templates and migrations come in as the
# package data that pyproject.toml lists.
COPY README.md ./
COPY app ./app
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && pip install --no-deps /wheels/*.whl

# --- runtime: the slim base, the virtualenv, an unprivileged user ---
FROM python:3.11-slim-bookworm AS runtime

# ENVIRONMENT=production: a container started without real keys, SECRET_KEY and an
# SMTP server refuses to start rather than run on throw-away development secrets.
# HOST=0.0.0.0: a server on 127.0.0.1 inside the container is out of reach of the
# published port.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    ENVIRONMENT=production \
    DATA_DIR=/app/data \
    HOST=0.0.0.0 \
    PORT=8000

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && install -d -o app -g app -m 0700 /app/data

COPY --from=builder /opt/venv /opt/venv

# The code lives in the virtualenv, owned by root; the user may write DATA_DIR only.
WORKDIR /app
VOLUME ["/app/data"]
# Numeric, so orchestrators can verify runAsNonRoot.
USER 10001:10001

EXPOSE 8000

# slim has no curl: urllib fails on a refused connection and on any non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health', timeout=4)"]

CMD ["python", "-m", "app", "serve"]
