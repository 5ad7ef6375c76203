FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
EXPOSE 3005
CMD ["sh", "-c", "python manage.py migrate --noinput && daphne -b 0.0.0.0 -p 3005 mysmsapio.asgi:application"]
