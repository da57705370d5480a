#!/usr/bin/env bash
# Builds sk-tracer as shipped: the `dist` profile, optimised with the execution profile in this
# directory (README.md says what it does and how it is made).
#
#   pgo/build.sh [cargo build options]        e.g. --locked --target x86_64-unknown-linux-musl
#
# The binary lands where `cargo build --profile dist` puts it (target/[TRIPLE/]dist/sk-tracer).
# The flags go through RUSTFLAGS because stable cargo has no per-profile rustflags; a build with
# other RUSTFLAGS in the same target directory rebuilds everything.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=$(cd "$here/.." && pwd)/target
target=${CARGO_TARGET_DIR:-$target}
packed="$here/sk-tracer.profdata.xz"
[ -f "$packed" ] || { echo "pgo/build.sh: $packed is missing" >&2; exit 1; }
command -v xz >/dev/null || { echo "pgo/build.sh: xz is needed to unpack $packed (Debian: xz-utils)" >&2; exit 1; }
# Cargo does not look into files that flags name: the profile's path carries its digest, so that a
# new profile changes RUSTFLAGS and rebuilds, and an unchanged one leaves the build up to date.
digest=$(sha256sum "$packed" | cut -c1-16)
profile="$target/pgo/sk-tracer-$digest.profdata"
if ! [ -f "$profile" ]; then
  mkdir -p "$target/pgo"
  xz -dc "$packed" > "$profile.tmp" && mv "$profile.tmp" "$profile"
fi
# A function changed since the profile was taken is built as without one; a warning for each
# would drown the build's output. `keep-text-section-prefix` keeps the functions the profile
# finds hot and those it never saw run in sections of their own, so that the code a running
# tracer uses lies together.
export RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$profile -Cllvm-args=-no-pgo-warn-mismatch -Clink-arg=-Wl,-z,keep-text-section-prefix"
cd "$here/.."
exec cargo build --profile dist -p sk-tracer --bin sk-tracer "$@"
