# The Harbour worker image for the scale-out path (docker-compose.yml). The embedded demo
# (`make run`) does not use it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first so that code changes do not reinstall them.
COPY pyproject.toml constraints.txt alembic.ini worker.py starter.py devstack.py ./
COPY models/ models/
COPY workflows/ workflows/
COPY activities/ activities/
COPY infra/ infra/
COPY readmodel/ readmodel/
COPY services/ services/
COPY api/ api/
COPY bootstrap/ bootstrap/
COPY cli/ cli/
COPY migrations/ migrations/
RUN pip install -c constraints.txt .
# The sandbox re-imports workflows/ (from /app, first on sys.path) for every workflow run:
# compile it here, since PYTHONDONTWRITEBYTECODE and a read-only /app keep Python from doing so.
RUN python -m compileall -q workflows

# Never run as root; the worker needs no writable files (keys come from the environment).
RUN useradd --system --uid 10001 --home-dir /app harbour
USER harbour

# The worker by default; the HTTP API is the same image with `python -m api` (docker-compose).
CMD ["python", "worker.py"]
