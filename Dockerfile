# papersift: CPU-only image. Build: docker build -t papersift .
# Stage 1 builds a virtualenv (CPU torch first, so nothing pulls a CUDA build); stage 2 runs it
# as a non-root user.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY papersift ./papersift
COPY indexer ./indexer
COPY service ./service
COPY migrations ./migrations
RUN pip install .

FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    PAPERSIFT_DATA_DIR=/data \
    PAPERSIFT_SHARED_DATA=/shared/data
RUN useradd --create-home --uid 10001 papersift && mkdir -p /data && chown papersift /data
COPY --from=build /opt/venv /opt/venv
USER papersift
WORKDIR /home/papersift
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["papersift", "serve", "--host", "0.0.0.0", "--port", "8000"]
