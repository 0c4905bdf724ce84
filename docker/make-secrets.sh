#!/bin/sh
# Writes one random secret per file in docker/secrets/ (compose.yaml mounts each only where it is
# needed). Existing files are kept: a key that changes orphans what it protects (the audit chain,
# the re-identification tables, every token a department holds). Rotate one on purpose by
# deleting its file, running this again and refreshing what depends on it.
#
#   docker/make-secrets.sh [root-user-name]
set -eu
umask 077
folder="$(dirname "$0")/secrets"
mkdir -p "$folder"
chmod 700 "$folder"   # the files are read-only for all inside the containers; the folder keeps other host users out

new() {
  if [ ! -s "$folder/$1" ]; then
    python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > "$folder/$1"
    echo "wrote $folder/$1"
  fi
}

if [ ! -s "$folder/minio_root_user" ]; then
  echo "${1:-govlake-root}" > "$folder/minio_root_user"
fi
for name in postgres_password minio_root_password lake_secret_key share_key reident_key \
            audit_key session_secret airflow_api_secret_key airflow_jwt_secret \
            airflow_admin_password; do
  new "$name"
done
# Airflow's Fernet key: 32 random bytes, URL-safe base64 (the format Fernet requires).
if [ ! -s "$folder/airflow_fernet_key" ]; then
  python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())' \
    > "$folder/airflow_fernet_key"
  echo "wrote $folder/airflow_fernet_key"
fi
# The mail server's password is the operator's to write (empty: the server wants none).
[ -e "$folder/smtp_password" ] || : > "$folder/smtp_password"
# Containers run as other users (postgres, govlake): the files must be readable inside them.
chmod 444 "$folder"/*
