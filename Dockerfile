# The ombuds worker image: `docker build -t ombuds-worker .`, or `docker compose build worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The pinned runtime dependencies first (no test tools, no Temporal dev server: that is the
# `server` extra, for `ombuds dev`): rebuilt only when the lock changes.
COPY requirements-runtime.lock ./
RUN pip install -r requirements-runtime.lock

# Then the package itself (its dependencies are already there, from the lock).
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY workflows ./workflows
COPY activities ./activities
COPY schemas ./schemas
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info

COPY policies ./policies
COPY examples ./examples

# OMBUDS_HOME is a volume that every worker shares (the content-addressed snapshot store);
# created here so that a new named volume starts out owned by the worker's user.
RUN useradd --system --uid 10001 --home-dir /var/lib/ombuds --shell /usr/sbin/nologin ombuds \
    && mkdir -p /var/lib/ombuds \
    && chown ombuds:ombuds /var/lib/ombuds
ENV OMBUDS_HOME=/var/lib/ombuds \
    OMBUDS_POLICIES=/app/policies \
    OMBUDS_LOG_FORMAT=json
VOLUME ["/var/lib/ombuds"]
USER ombuds

ENTRYPOINT ["ombuds"]
CMD ["worker"]
