# The forest-slack image: `forest-bot run` (the bot) by default; `forest-bot forest serve` (forestd)
# from the same image. Built with `docker compose build` (compose.yaml) or `docker build .`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY . .
# The same install script as the README and CI, without the dev extras (tests, linters, browser).
RUN scripts/setup --no-dev

RUN useradd --system --uid 10001 --home-dir /home/forest --create-home forest
ENV PATH=/app/.venv/bin:$PATH
# A working folder the user owns: `.env` is read from here, a SQLite file (single replica only)
# would be written here.
WORKDIR /home/forest
USER forest

EXPOSE 3000
# /healthz answers 503 (urlopen raises) when Slack revoked the token or NATS is disconnected.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('FOREST_BOT_HTTP_PORT', '3000') + '/healthz', timeout=5)"]

ENTRYPOINT ["forest-bot"]
CMD ["run"]
