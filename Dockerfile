# One image for every process (web, worker, beat, flower, sandbox); compose picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bridge bridge
COPY workers workers
COPY webapp webapp
COPY cli cli
COPY sandbox sandbox
COPY Procfile gunicorn.conf.py ./
RUN pip install --no-cache-dir . && useradd --create-home zkb
USER zkb
