# lienthong: one image for the API (`lienthong serve`) and the workers (`lienthong worker`).
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN useradd --create-home --uid 10001 lienthong
WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
COPY core ./core
COPY hub ./hub
COPY adapters ./adapters
COPY schemas ./schemas
COPY routing ./routing
COPY security ./security
RUN pip install -c constraints.txt .

USER lienthong
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz').status==200 else 1)"
CMD ["lienthong", "serve", "--host", "0.0.0.0", "--port", "8080"]
