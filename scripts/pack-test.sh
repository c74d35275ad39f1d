#!/usr/bin/env bash
# The npm package as a user gets it: `npm pack`, then a fresh project in a
# temp dir installs the tarball, once with install scripts and once without
# (--ignore-scripts, pnpm's default), and runs test/fixtures/packed_app:
#   (a) app.mts: an ES module TypeScript server (fetch and fs/promises from
#       its coroutines), stopped by SIGTERM, which must exit 0;
#   (b) helper.cts: a CommonJS module the app uses, require()ing coio;
#   (c) client.mts: a strict async/await TypeScript client with no casts.
# The projects compile with TypeScript 7's `tsc --init` defaults ("types": [],
# skipLibCheck, ...), so coio's published types must stand alone. Without
# scripts the prebuilt addon must load (no build/ made); with its prebuilds
# removed, importing coio must fail with the command to run, and that
# command (npm rebuild coio: the source build) must make it work.
# Installs come from npm's cache (--prefer-offline): the registry is only
# asked for what the cache lacks. Prints one line per check; exits 1 on the first failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tsc="$root/node_modules/typescript/bin/tsc"
work="$(mktemp -d "${TMPDIR:-/tmp}/coio-pack-test.XXXXXX")"
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "pack-test: FAILED: $*" >&2; exit 1; }
ok() { echo "pack-test: ok: $*"; }
t0=$SECONDS

if [ -n "${COIO_PACK_TARBALL:-}" ]; then # a tarball packed already (while working on this script)
  cp "$COIO_PACK_TARBALL" "$work/" && tarball="$(basename "$COIO_PACK_TARBALL")"
else
  tarball="$(cd "$root" && npm pack --silent --pack-destination "$work" | tail -n 1)"
fi
[ -f "$work/$tarball" ] || fail "npm pack made no tarball"
listing="$(tar tzf "$work/$tarball")"
for f in package/LICENSE package/README.md package/dist/esm/index.d.ts package/dist/cjs/index.js \
         "package/prebuilds/linux-x64/coio.napi.glibc.node" "package/prebuilds/linux-x64/coio_tls.napi.glibc.node"; do
  grep -qx "$f" <<<"$listing" || fail "$f is not in $tarball"
done
ok "npm pack: $tarball ($(du -k "$work/$tarball" | cut -f1) KiB, $(wc -l <<<"$listing") files) in $((SECONDS - t0)) s"

# Casts in the strict client would defeat the point of (c).
if grep -nE '\bas [A-Za-z{(]|<[A-Z][A-Za-z]*>[a-z(]|!\.|!\)|!;' "$root/test/fixtures/packed_app/client.mts"; then fail "client.mts has a cast or a non-null assertion"; fi

run_app() { # $1: project dir, $2: label
  local app="$1" label="$2" port line
  rm -f "$app/served.log" "$app/app.out"
  (cd "$app" && exec node app.mjs served.log > app.out 2>&1) &
  server_pid=$!
  for _ in $(seq 1 100); do
    port="$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$app/app.out")"
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$app/app.out" >&2; fail "$label: the server exited before listening"; }
    sleep 0.1
  done
  [ -n "$port" ] || fail "$label: the server did not listen within 10 s"
  line="$(cd "$app" && timeout 20 node client.mjs "$port" /one)" || fail "$label: the client failed"
  [[ "$line" == "hello from /one (task "*", loop running: true)" ]] || fail "$label: the client got '$line'"
  line="$(cd "$app" && timeout 20 node client.mjs "$port" /two)" || fail "$label: the second client failed"
  kill -TERM "$server_pid"
  local status=0
  timeout 15 tail --pid="$server_pid" -f /dev/null || fail "$label: the server did not exit within 15 s of SIGTERM"
  wait "$server_pid" || status=$?
  server_pid=
  [ "$status" -eq 0 ] || { cat "$app/app.out" >&2; fail "$label: the server exited $status after SIGTERM"; }
  grep -qx 'stopped by SIGTERM' "$app/app.out" || { cat "$app/app.out" >&2; fail "$label: no clean stop in the server's output"; }
  [ "$(cat "$app/served.log")" = $'hello from /one\nhello from /two' ] || fail "$label: served.log is '$(cat "$app/served.log")'"
  ok "$label: server (fetch, fs/promises, CJS helper) answered 2 clients and exited 0 on SIGTERM; client: $line"
}

for mode in scripts no-scripts; do
  t=$SECONDS
  app="$work/app-$mode"
  mkdir -p "$app"
  cp "$root/test/fixtures/packed_app/"{app.mts,helper.cts,client.mts,tsconfig.json} "$app/"
  printf '{ "name": "coio-pack-test-%s", "private": true, "type": "module" }\n' "$mode" > "$app/package.json"
  flags=(--prefer-offline --no-audit --no-fund --loglevel=error)
  [ "$mode" = no-scripts ] && flags+=(--ignore-scripts)
  (cd "$app" && timeout 300 npm install "${flags[@]}" "$work/$tarball") || fail "$mode: npm install of the tarball failed"
  [ ! -e "$app/node_modules/coio/build" ] || fail "$mode: the install compiled the addon (a prebuild should have been used)"
  [ -d "$app/node_modules/@types/node" ] || fail "$mode: @types/node was not installed with coio"
  (cd "$app" && node "$tsc" -p .) || fail "$mode: the TypeScript project does not compile against the published types"
  ok "$mode: installed and compiled (strict, \"types\": []) in $((SECONDS - t)) s"
  run_app "$app" "$mode"
done

# No prebuild for this platform and no install scripts: a clear error, then the command it names.
app="$work/app-no-scripts"
mv "$app/node_modules/coio/prebuilds" "$app/node_modules/coio/prebuilds.hidden"
if msg="$(cd "$app" && node -e "import('coio').then(() => console.log('loaded'), (e) => { console.log(e.code + ': ' + e.message); process.exit(1); })")"; then
  fail "coio loaded with no prebuild and no source build"
fi
[[ "$msg" == "ERR_COIO_NO_ADDON: "*"npm rebuild coio"* ]] || fail "the error without an addon is '$msg'"
ok "no addon: '${msg:0:90}...'"
t=$SECONDS
(cd "$app" && JOBS=max timeout 600 npm rebuild coio --loglevel=error > rebuild.log 2>&1) || { tail -n 30 "$app/rebuild.log" >&2; fail "npm rebuild coio (the source build) failed"; }
[ -f "$app/node_modules/coio/build/Release/coio.node" ] && [ -f "$app/node_modules/coio/build/Release/coio_tls.node" ] || fail "npm rebuild coio built no addons"
run_app "$app" "source build (npm rebuild coio, $((SECONDS - t)) s)"
echo "pack-test: all passed in $((SECONDS - t0)) s"
