# MySMSAPio: one image for the web nodes (granian), the phone nodes (daphne), the Celery workers
# and beat (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MYSMSAPIO_VAR_DIR=/app/var
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system --home-dir /app mysmsapio && mkdir -p /app/var && chown mysmsapio /app/var
USER mysmsapio
EXPOSE 8000 8001
CMD ["granian", "--interface", "wsgi", "--host", "0.0.0.0", "--port", "8000", "--no-ws", "mysmsapio.wsgi:application"]
