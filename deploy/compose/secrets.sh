#!/usr/bin/env bash
# Creates var/secrets/ for compose.yaml (once): random PostgreSQL and Redis passwords, the env file the
# OMS containers read (DSN and Redis URL with those passwords) and a placeholder for the OpenBao token
# (replace it after `bao operator init`, see docs/deploy.md). Files are 0600 and never committed (var/).
set -euo pipefail
cd "$(dirname "$0")/../.."
umask 077
mkdir -p var/secrets
rand() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
if [ -e var/secrets/oms.env ]; then echo "var/secrets/oms.env exists; remove var/secrets/ to start over" >&2; exit 1; fi
pg=$(rand); rd=$(rand)
printf '%s\n' "$pg" > var/secrets/pg_password
printf 'requirepass %s\nprotected-mode no\nsave ""\nappendonly no\n' "$rd" > var/secrets/redis.conf
cat > var/secrets/oms.env <<ENV
OMS_PG_DSN=host=postgres port=5432 user=oms dbname=oms password=$pg
OMS_REDIS_URL=redis://:$rd@redis:6379/0
ENV
[ -e var/secrets/vault_token ] || echo "replace-with-a-token-from-bao" > var/secrets/vault_token
# the containers run as uid 10001: let that uid read the secrets docker bind-mounts
chown 10001:10001 var/secrets/* 2>/dev/null || echo "note: run as root (or chown 10001) so uid 10001 can read var/secrets/"
echo "wrote var/secrets/{pg_password,redis.conf,oms.env,vault_token}"
