# syntax=docker/dockerfile:1
# backcare: one image for web (gunicorn), worker and beat (celery) and the one-shot migrate step.
# docker-compose.yml wires them to PostgreSQL and Redis; see the comments there.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    DJANGO_SETTINGS_MODULE=backcare.settings.production \
    WEB_CONCURRENCY=2

WORKDIR /app

RUN groupadd --system --gid 10001 backcare \
    && useradd --system --uid 10001 --gid backcare --home-dir /home/backcare --create-home \
        --shell /usr/sbin/nologin backcare

# Dependencies first, so code changes don't reinstall them. All are wheels (psycopg[binary]).
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# Static files are collected into the image (WhiteNoise serves them with hashed names).
# Production settings refuse to load without these variables; the values below exist only for
# this build step, are never used at run time, and nothing is contacted.
RUN DJANGO_SECRET_KEY=collectstatic-at-build-time-only-not-a-secret-0123456789abcdefghij \
    DJANGO_ALLOWED_HOSTS=build.invalid \
    DATABASE_URL=postgres://build@build.invalid:5432/build \
    REDIS_URL=redis://build.invalid:6379/0 \
    BACKCARE_VAPID_PRIVATE_KEY=$(python -c 'from backcare.push.vapid import generate_private_key, private_key_to_raw_b64; print(private_key_to_raw_b64(generate_private_key()))') \
    python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p var \
    && chown backcare:backcare var

# Code and static files stay root-owned (read-only to the app); var/ is the app's (beat's schedule).
USER backcare

EXPOSE 8000

# gunicorn reads the number of workers from WEB_CONCURRENCY.
CMD ["gunicorn", "backcare.wsgi:application", \
     "--bind", "0.0.0.0:8000", "--threads", "4", "--no-control-socket", \
     "--access-logfile", "-", "--forwarded-allow-ips", "*"]
