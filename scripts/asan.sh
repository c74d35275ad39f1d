#!/usr/bin/env bash
# The whole test suite against the native addon built with AddressSanitizer
# and UndefinedBehaviorSanitizer (npm run test:asan).
#
# 1. Builds the addon into build-asan/ (a copy of binding.gyp next to a
#    symlink to native/, so node-gyp leaves the normal build/ alone), with
#    -fsanitize=address,undefined passed through CXXFLAGS / LDFLAGS, which
#    gyp's Makefiles append to the flags of binding.gyp.
# 2. Runs vitest with the ASan runtime preloaded (Node itself is not
#    instrumented, so the runtime must come first in the library list) and
#    COIO_ADDON_PATH pointing src/native.ts's loader at the sanitized addon.
#    Leak detection is off: V8 is not leak-clean at exit.
# 3. Fails if vitest fails or if any process (test workers, child processes
#    and worker threads included) wrote a sanitizer report: ASan's go to
#    files under build-asan/reports/, UBSan's to stderr (build-asan/vitest.log
#    keeps the output); either is printed. UBSan checks are fatal.
#
# Extra arguments go to vitest (e.g. `bash scripts/asan.sh test/faults.test.ts`).
# A test stuck in the poller cannot be interrupted by vitest's own timeout
# (the thread is blocked), so the run as a whole is bounded: COIO_ASAN_TIMEOUT
# seconds (default 1800), then it fails.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started=$(date +%s)

# node-gyp needs Node's headers; nothing can be downloaded here (as .ci/run).
# node-gyp run directly (not through npm) reads no npm config: pass it on.
if [ -z "${npm_config_nodedir:-}" ]; then
  nodedir=$(npm config get nodedir 2>/dev/null)
  if [ "${nodedir#/}" != "$nodedir" ]; then
    export npm_config_nodedir=$nodedir
  elif [ -f /usr/include/node/node.h ]; then
    export npm_config_nodedir=/usr
  fi
fi

CXX=${CXX:-g++}
libasan=$("$CXX" -print-file-name=libasan.so)
libasan=$(readlink -f "$libasan")
if [ ! -f "$libasan" ]; then
  echo "asan.sh: the ASan runtime (libasan) is not installed for $CXX" >&2
  exit 1
fi

# scripts/portable.sh --asan: another directory, and gyp variables for the
# portable build.
out=${COIO_ASAN_OUT:-build-asan}
mkdir -p "$out"
cp binding.gyp "$out/binding.gyp"
ln -sfn ../native "$out/native"

# vptr needs RTTI, which node-gyp turns off; every other UBSan check is on
# and fatal (-fno-sanitize-recover), so a report cannot scroll by unnoticed.
san="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined"
echo "== building the sanitized addon into $out/build"
(
  cd "$out" &&
  CXXFLAGS="$san -fno-omit-frame-pointer -g -O1" CFLAGS="$san -fno-omit-frame-pointer -g -O1" \
  LDFLAGS="-fsanitize=address,undefined" \
  "$root/node_modules/.bin/node-gyp" rebuild --loglevel=warn -- ${COIO_ASAN_GYP_DEFINES:-}
) || { echo "asan.sh: the sanitized build failed" >&2; exit 1; }
addon="$root/$out/build/Release/coio.node"
built=$(date +%s)

reports="$root/$out/reports"
rm -rf "$reports"
mkdir -p "$reports"

echo "== vitest under ASan + UBSan ($libasan)"
LD_PRELOAD="$libasan" \
COIO_ADDON_PATH="$addon" \
ASAN_OPTIONS="detect_leaks=0:log_path=$reports/asan:verify_asan_link_order=0:allow_user_segv_handler=1" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan" \
  timeout --kill-after=30 "${COIO_ASAN_TIMEOUT:-1800}" npx vitest run "$@" 2>&1 | tee "$out/vitest.log"
status=${PIPESTATUS[0]}
finished=$(date +%s)

# ASan writes its reports to files (log_path). UBSan, linked with ASan by
# gcc, ignores log_path and prints to stderr: look for its reports (and any
# ASan report printed before log_path took effect) in the output too.
found=0
for f in "$reports"/*; do
  [ -e "$f" ] || continue
  found=$((found + 1))
  echo "== sanitizer report: $f"
  cat "$f"
done
if grep -qE 'runtime error:|ERROR: AddressSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$out/vitest.log"; then
  found=$((found + 1))
  echo "== sanitizer report(s) in the test output ($out/vitest.log):"
  grep -nE -A30 'runtime error:|ERROR: AddressSanitizer' "$out/vitest.log" | head -200
fi

echo "== asan.sh: build $((built - started)) s, tests $((finished - built)) s; vitest exit $status; $found sanitizer report(s)"
[ "$found" -eq 0 ] || exit 1
exit "$status"
