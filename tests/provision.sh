# Sourced by `make test` (bash): make sure the real services the tests talk to exist.
# Installs missing Debian packages (Mosquitto, PostgreSQL, Chromium for the console tests,
# VictoriaMetrics as the InfluxDB-protocol server, CJK fonts for screenshots), starts the
# installed PostgreSQL cluster if it is down, and exports LINLI_TEST_POSTGRES_URL when a fresh
# cluster needs a password for TCP logins. On CI (CI=true) tests that need a missing service fail.

_linli_as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

_linli_provision() {
  local packages=()
  { command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ]; } || packages+=(mosquitto)
  command -v mosquitto_pub >/dev/null || packages+=(mosquitto-clients)
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || packages+=(postgresql)
  for extra in ${LINLI_TEST_APT_EXTRA:-}; do
    dpkg -s "$extra" >/dev/null 2>&1 || packages+=("$extra")
  done
  if [ "${#packages[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null && { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null; }; then
      echo "provision: installing ${packages[*]}"
      _linli_as_root apt-get update -qq
      _linli_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${packages[@]}" >/dev/null
    else
      echo "provision: cannot install ${packages[*]} (no apt-get or no root); tests needing them skip (fail on CI)"
    fi
  fi

  _linli_pg_up() { python3 -c 'import socket; socket.create_connection(("127.0.0.1", 5432), timeout=2).close()' 2>/dev/null; }
  if ! _linli_pg_up; then
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$version" ]; then
      _linli_as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    fi
    for _ in $(seq 1 30); do _linli_pg_up && break; sleep 1; done
  fi
  # A freshly installed Debian cluster refuses password-less TCP logins: give the tests a role.
  if [ -z "${LINLI_TEST_POSTGRES_URL:-}" ] && _linli_pg_up \
    && ! PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    if _linli_as_root su postgres -c "psql -Atc \"ALTER ROLE postgres PASSWORD 'linli-ci'\"" >/dev/null 2>&1; then
      export LINLI_TEST_POSTGRES_URL="postgresql+psycopg://postgres:linli-ci@127.0.0.1:5432/postgres"
    fi
  fi
}

# Debian packages some tests need beyond the brokers and the database (space-separated).
LINLI_TEST_APT_EXTRA="${LINLI_TEST_APT_EXTRA-chromium fonts-noto-cjk victoria-metrics}"
_linli_provision
