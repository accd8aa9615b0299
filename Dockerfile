# One image for every process (web, worker, beat, flower, sandbox); compose picks the command.
# The base image is pinned by digest (python:3.11-slim, linux/amd64 and arm64 index) so a rebuild
# gets the same bytes; to move it, `docker buildx imagetools inspect python:3.11-slim`, review,
# and replace the digest. Python packages come at the versions of constraints.txt (CI uses the
# same file).
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY bridge bridge
COPY workers workers
COPY webapp webapp
COPY cli cli
COPY sandbox sandbox
COPY Procfile gunicorn.conf.py ./
RUN pip install --no-cache-dir -c constraints.txt . && useradd --create-home zkb
USER zkb
