#!/usr/bin/env bash
# Checks native/poller_kqueue.cc on a machine without kqueue (Linux):
#  1. compile-checks it (g++ -fsyntax-only) against libkqueue's <sys/event.h>
#     when libkqueue-dev is installed, else against scripts/kqueue-shim;
#  2. builds and runs scripts/kqueue-shim/harness.cc, which drives the
#     backend through the PollerBackend contract: against libkqueue (a real
#     kqueue emulation) when available, and always against the poll(2)-based
#     shim, with and without EV_RECEIPT;
#  3. compile-checks native/sendfile_mac.cc and sendfile_freebsd.cc against
#     their OS's sendfile prototype (scripts/kqueue-shim/sendfile_*.h).
# Run by CI (.ci/run) and before touching the kqueue backend. Without
# libkqueue-dev (Debian 12 has no such package) it says so and checks
# against the shim only. On macOS / *BSD the real thing is built by node-gyp.
set -euo pipefail
cd "$(dirname "$0")/.."

CXX=${CXX:-g++}
FLAGS=(-std=c++17 -O1 -Wall -Wextra -Wno-unused-parameter -Werror)
NAPI_INC=$(node -p "require('node-addon-api').include_dir")
NODE_INC=$(node -p "require('path').join(process.execPath, '../../include/node')")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

if [ -f /usr/include/kqueue/sys/event.h ]; then
  echo "== syntax check against libkqueue"
  "$CXX" "${FLAGS[@]}" -fsyntax-only -I/usr/include/kqueue -I"$NAPI_INC" -I"$NODE_INC" \
    native/poller_kqueue.cc
  echo "== harness against libkqueue"
  "$CXX" "${FLAGS[@]}" -I/usr/include/kqueue -DCOIO_REAL_KQUEUE \
    native/poller_kqueue.cc scripts/kqueue-shim/harness.cc -lkqueue -lpthread -o "$out/real"
  "$out/real"
else
  echo "(libkqueue-dev is not installed: checking against the shim only)"
fi

echo "== syntax check against the shim"
"$CXX" "${FLAGS[@]}" -fsyntax-only -Iscripts/kqueue-shim -I"$NAPI_INC" -I"$NODE_INC" \
  native/poller_kqueue.cc

for variant in receipt no-receipt; do
  defs=()
  [ "$variant" = no-receipt ] && defs=(-DCOIO_SHIM_NO_RECEIPT)
  echo "== harness against the shim ($variant)"
  "$CXX" "${FLAGS[@]}" "${defs[@]}" -Iscripts/kqueue-shim \
    native/poller_kqueue.cc scripts/kqueue-shim/kqueue_shim.cc scripts/kqueue-shim/harness.cc \
    -o "$out/shim-$variant"
  "$out/shim-$variant"
done

# The BSD builds' sendfile calls: each OS's own signature, declared as its
# manual page gives it (Linux's headers have neither).
for os in mac freebsd; do
  echo "== syntax check of native/sendfile_$os.cc against its prototype"
  "$CXX" "${FLAGS[@]}" -fsyntax-only -include "scripts/kqueue-shim/sendfile_$os.h" "native/sendfile_$os.cc"
done
