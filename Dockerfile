# MySMSAPio: one image for the web nodes (daphne), the Celery workers and beat (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MYSMSAPIO_VAR_DIR=/app/var
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system --home-dir /app mysmsapio && mkdir -p /app/var && chown mysmsapio /app/var
USER mysmsapio
EXPOSE 3005
CMD ["daphne", "-b", "0.0.0.0", "-p", "3005", "--access-log", "/dev/null", "mysmsapio.asgi:application"]
