#!/usr/bin/env bash
# Fuzzes every operation of the served OpenAPI document with schemathesis and fails on a server
# error (5xx) or a status the document does not list for that operation.
#
#   tests/schemathesis.sh sqlite            # a fresh SQLite file
#   tests/schemathesis.sh postgres          # a fresh database on $PG_URL, dropped afterwards
#
# It builds and starts `linli` on a free port with its own Redis prefix, logs in an admin
# (LINLI_BOOTSTRAP_ADMINS) who is also a member and staff of a community, so staff routes are
# reachable, and runs `st run` in rounds: each round gets a fresh access token (they live 15
# minutes) and puts the admin back in the community (the fuzzer may PATCH /me away from it).
# A fake WeChat (tests/fake_wechat.py) answers on the next port. Then it stops both. Settings (environment):
#   ROUNDS=4  EXAMPLES=60 (cases per operation per phase and round)  WORKERS=2
#   PG_URL=postgres://postgres@127.0.0.1:5432  PORT=18090  ST=st (the schemathesis CLI)
#   SEED (a fixed seed for every round, to replay)
set -euo pipefail

db_kind=${1:-sqlite}
ROUNDS=${ROUNDS:-4}
EXAMPLES=${EXAMPLES:-60}
WORKERS=${WORKERS:-2}
PORT=${PORT:-18090}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
ST=${ST:-st}
ADMIN_OPENID=schemathesis-admin
repo=$(cd "$(dirname "$0")/.." && pwd)
base="http://127.0.0.1:$PORT"
run_id="st$(date +%s)$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/linli-schemathesis.XXXXXX")
report=$(realpath -m "${REPORT_DIR:-$work/report}")

case "$db_kind" in
  sqlite) database_url="sqlite://$work/linli.db?mode=rwc" ;;
  postgres)
    database_url="$PG_URL/linli_$run_id"
    psql "$PG_URL/postgres" -qc "CREATE DATABASE linli_$run_id" ;;
  *) echo "usage: $0 sqlite|postgres" >&2; exit 2 ;;
esac

(cd "$repo" && cargo build -q -p linli-api)
binary="${CARGO_TARGET_DIR:-$repo/target}/debug/linli"

server_pid=
wechat_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$wechat_pid" ]; then kill "$wechat_pid" 2>/dev/null || true; fi
  if [ "$db_kind" = postgres ]; then
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS linli_$run_id WITH (FORCE)" || true
  fi
  redis-cli --scan --pattern "linli_$run_id:*" 2>/dev/null | xargs -r redis-cli del >/dev/null 2>&1 || true
}
trap cleanup EXIT

python3 "$repo/tests/fake_wechat.py" "$((PORT + 1))" &
wechat_pid=$!

LINLI_BIND="127.0.0.1:$PORT" DATABASE_URL="$database_url" LINLI_REDIS_PREFIX="linli_$run_id" \
  LINLI_DATA_DIR="$work/data" LINLI_BOOTSTRAP_ADMINS="$ADMIN_OPENID" RUST_LOG=warn \
  LINLI_WECHAT_BASE_URL="http://127.0.0.1:$((PORT + 1))" LINLI_WECHAT_APPID=wx-fuzz \
  LINLI_WECHAT_SECRET=wx-fuzz-secret \
  "$binary" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 120); do
  curl -sf "$base/healthz" >/dev/null && break
  sleep 1
done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)" 2>/dev/null; }
api() { # method path token [body]
  curl -sf -X "$1" "$base/api/v1$2" -H "authorization: Bearer $3" \
    -H 'content-type: application/json' ${4:+-d "$4"}
}

# A fresh token for the admin (in $token), who is put back into the community as staff. Not
# called in a subshell: it sets $community the first time, and $admin_id.
admin_token() {
  local login user
  login=$(curl -sf -X POST "$base/api/v1/auth/dev/login" -H 'content-type: application/json' \
    -d "{\"openid\": \"$ADMIN_OPENID\"}")
  token=$(json "['access_token']" <<<"$login")
  user=$(json "['user']['id']" <<<"$login")
  admin_id=$user
  if [ -z "${community:-}" ]; then
    community=$(api POST /communities "$token" '{"name": "schemathesis"}' | json "['id']")
  fi
  api PATCH /me "$token" "{\"community_id\": \"$community\"}" >/dev/null
  api PUT "/communities/$community/members/$user/roles/staff" "$token" '{}' >/dev/null
}

# Real ids, given to the fuzzer as a dictionary for every `id` and `user_id` path parameter
# half of the time, so it gets past the lookups into the operations' own rules.
seed() {
  local token=$1 tomorrow next_week id
  tomorrow=$(date -u -d '+1 day' +%Y-%m-%d)
  next_week=$(date -u -d '+7 days' +%Y-%m-%dT10:00:00Z)
  ids=("$community" "$admin_id")
  id=$(api POST /wishes "$token" '{"title": "a walk", "category": "companionship", "budget_fen": 0}' | json "['id']") && ids+=("$id")
  id=$(api POST /courses "$token" "{\"title\": \"lego\", \"category\": \"lego\", \"capacity\": 5,
    \"registration_opens_at\": \"2020-01-01T00:00:00Z\", \"registration_closes_at\": \"$next_week\",
    \"sessions\": [{\"starts_at\": \"$next_week\", \"ends_at\": \"${next_week/10:00/11:00}\"}]}" | json "['id']") && ids+=("$id")
  id=$(api POST "/courses/${ids[-1]}/enrollments" "$token" '{}' | json "['id']") && ids+=("$id") || true
  id=$(api POST /canteen/menus "$token" "{\"date\": \"$tomorrow\", \"slot\": \"lunch\", \"dishes\": [\"rice\"],
    \"price_fen\": 1200, \"capacity\": 50, \"reserve_cutoff_at\": \"${tomorrow}T02:00:00Z\"}" | json "['id']") && ids+=("$id")
  id=$(api POST "/canteen/menus/${ids[-1]}/reservations" "$token" '{"mode": "dine_in"}' | json "['id']") && ids+=("$id") || true
  id=$(api POST /me/dependents "$token" '{"name": "Xiaoming", "birth_date": "2018-05-01", "relation": "child"}' | json "['id']") && ids+=("$id") || true
  id=$(api POST "/communities/$community/grid" "$token" '{"kind": "estate", "name": "East"}' | json "['id']") && ids+=("$id") || true
  {
    echo "[dictionaries.ids]"
    printf 'values = [%s]\n' "$(printf '"%s", ' "${ids[@]}")"
    echo '[parameters]'
    echo '"path.id" = { dictionary = "ids", probability = 0.5 }'
    echo '"path.user_id" = { dictionary = "ids", probability = 0.5 }'
  } >"$work/schemathesis.toml"
  echo "seeded ${#ids[@]} ids"
}

community=
admin_id=
token=
admin_token
seed "$token"
status=0
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round/$ROUNDS on $db_kind"
  admin_token
  # From the scratch directory, where schemathesis keeps its cache.
  (cd "$work" && "$ST" --config-file "$work/schemathesis.toml" run "$base/openapi.json" \
    -H "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance \
    --max-examples "$EXAMPLES" \
    --workers "$WORKERS" \
    --phases examples,coverage,fuzzing \
    --suppress-health-check all \
    --request-timeout 30 \
    ${SEED:+--seed "$SEED"} \
    --report ndjson --report-dir "$report/round-$round") \
    || status=$?
done
echo "reports: $report; server log: $work/server.log"
exit "$status"
