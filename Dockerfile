# The application image: web (gunicorn), Celery workers and beat all run from it.
# See docker-compose.yml for the full stack; configuration comes only from the environment.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed, unprivileged user. The code stays owned by root (the app cannot rewrite it); only
# var/ (static files, the embedded queue folder) is the app user's.
RUN groupadd --system --gid 1000 app \
    && useradd --system --uid 1000 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

COPY . .
RUN mkdir -p var && chown app:app var
USER app

# collectstatic imports the settings, which refuse to load without SECRET_KEY when DEBUG is off.
# The dummy key is set for this one command only: it is not part of the image's environment.
ARG BUILD_ONLY_SECRET_KEY=collectstatic-at-build-time-only-not-a-secret
RUN SECRET_KEY="$BUILD_ONLY_SECRET_KEY" python manage.py collectstatic --noinput

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--workers", "3", \
     "--timeout", "120", \
     "--worker-tmp-dir", "/dev/shm", \
     "--access-logfile", "-"]
