#!/bin/sh
# Entry point of every govlake container: secrets from files, private files, then the command.
#
# Compose mounts each secret as a file under /run/secrets (never in the environment of
# `docker inspect`). govlake reads its keys from files itself (GOVLAKE_*_FILE); the programs that
# read only the environment get theirs here, in this process and its children only:
#   AWS_SECRET_ACCESS_KEY_FILE  the lake's bucket-scoped key (delta-rs and Spark's S3A)
#   POSTGRES_PASSWORD_FILE      the database password: Airflow's metadata database
#                               (POSTGRES_DB) and govlake's workflow store (POSTGRES_STORE_DB)
# Both URLs use psycopg 3, the driver requirements.lock installs: Airflow's API server also needs
# an async URL, and would derive postgresql+asyncpg (not installed) from a psycopg2 one.
# Airflow's own keys are not read here: compose passes AIRFLOW__*_CMD, which Airflow runs itself.
set -eu
# New files: owner read/write, group read, nothing for other local users.
umask 027

if [ -n "${AWS_SECRET_ACCESS_KEY_FILE:-}" ]; then
  AWS_SECRET_ACCESS_KEY="$(cat "$AWS_SECRET_ACCESS_KEY_FILE")"
  export AWS_SECRET_ACCESS_KEY
fi

if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  password="$(python -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read().strip(), safe=""))' "$POSTGRES_PASSWORD_FILE")"
  server="${POSTGRES_USER}:${password}@${POSTGRES_HOST:-postgres}:5432"
  if [ -n "${POSTGRES_DB:-}" ]; then
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg://${server}/${POSTGRES_DB}"
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC="postgresql+psycopg_async://${server}/${POSTGRES_DB}"
  fi
  if [ -n "${POSTGRES_STORE_DB:-}" ]; then
    export GOVLAKE_DB_URL="postgresql+psycopg://${server}/${POSTGRES_STORE_DB}"
  fi
  unset password server
fi

exec "$@"
