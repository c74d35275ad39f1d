#!/usr/bin/env bash
# The whole test suite against the portable build of the addon (npm run
# test:portable): binding.gyp's coio_portable=1 compiles, on this OS, the
# files an OS without epoll or kqueue gets: the pipe waker instead of
# eventfd, no OS backend (poll is the default), no pidfd (children are
# watched through SIGCHLD). On Linux that runs most of the paths macOS and
# the BSDs take (all but kqueue itself: scripts/check-kqueue.sh).
#
# Builds into build-portable/ (a copy of binding.gyp next to a symlink to
# native/, so the normal build/ stays), then runs vitest with
# COIO_ADDON_PATH pointing src/native.ts's loader at it (worker threads and
# child processes inherit it).
#
#   bash scripts/portable.sh [vitest args]   e.g. test/threads.test.ts
#   bash scripts/portable.sh --asan [args]   the same build under ASan + UBSan
#                                            (scripts/asan.sh into build-asan-portable/)
#
# A test stuck in the poller cannot be interrupted by vitest's own timeout,
# so the run is bounded: COIO_PORTABLE_TIMEOUT seconds (default 1200).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "${1:-}" = "--asan" ]; then
  shift
  COIO_ASAN_OUT=build-asan-portable COIO_ASAN_GYP_DEFINES=-Dcoio_portable=1 exec bash scripts/asan.sh "$@"
fi

started=$(date +%s)
# node-gyp run directly (not through npm) reads no npm config: pass it on
# (nothing can be downloaded here; as .ci/run and scripts/asan.sh).
if [ -z "${npm_config_nodedir:-}" ]; then
  nodedir=$(npm config get nodedir 2>/dev/null)
  if [ "${nodedir#/}" != "$nodedir" ]; then
    export npm_config_nodedir=$nodedir
  elif [ -f /usr/include/node/node.h ]; then
    export npm_config_nodedir=/usr
  fi
fi

out=build-portable
mkdir -p "$out"
cp binding.gyp "$out/binding.gyp"
ln -sfn ../native "$out/native"
echo "== building the portable addon into $out/build"
(cd "$out" && "$root/node_modules/.bin/node-gyp" rebuild --loglevel=warn -- -Dcoio_portable=1) ||
  { echo "portable.sh: the portable build failed" >&2; exit 1; }
addon="$root/$out/build/Release/coio.node"
# Say what was built, and refuse to test the wrong thing.
COIO_ADDON_PATH="$addon" node -e '
  const m = { exports: {} };
  process.dlopen(m, process.env.COIO_ADDON_PATH);
  const b = m.exports.build;
  console.log(`== portable addon: backends ${m.exports.backends().join(", ")}; waker ${b.waker}; pidfd ${b.pidfd}`);
  if (!b.portable) { console.error("portable.sh: the addon does not report a portable build"); process.exit(1); }
' || exit 1
built=$(date +%s)

echo "== vitest on the portable build"
COIO_ADDON_PATH="$addon" timeout --kill-after=30 "${COIO_PORTABLE_TIMEOUT:-1200}" npx vitest run "$@"
status=$?
finished=$(date +%s)
echo "== portable.sh: build $((built - started)) s, tests $((finished - built)) s; vitest exit $status"
exit "$status"
