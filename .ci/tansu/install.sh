#!/usr/bin/env bash
# Builds the Kafka-protocol broker Tansu from its crates.io sources with the
# patches in this folder, and installs the binary as ROOT/bin/tansu.
#
#   bash .ci/tansu/install.sh VERSION ROOT
#
# group-rebalance.patch fixes three faults of Tansu 0.6's consumer-group
# coordinator that leave partitions with nobody after a member dies:
# - a member whose session expired was dropped without a new generation, so
#   the others kept their old assignment and never took over its partitions;
#   now an expiry starts a new generation, as a LeaveGroup already did, and
#   every member rejoins;
# - likewise for a member expiring while the group forms, which a leader that
#   joined before would have been given partitions;
# - a leader that left or expired while the group formed stayed its leader,
#   so no member could ever sync; now the next member to join leads.
# Kafka's own coordinator behaves as patched.
#
# Idempotent: does nothing when ROOT/bin/tansu was built from this version
# and these patches. Builds in /var/cache/fivefold/tansu-build (about ten
# minutes cold on 2 cores).
set -euo pipefail
version=$1
root=$2
here=$(cd "$(dirname "$0")" && pwd)
stamp="$root/tansu-$version-$(cat "$here"/*.patch | sha256sum | cut -c1-16).built"
if [ -e "$stamp" ] && "$root/bin/tansu" --version 2>/dev/null | grep -q "$version"; then
  exit 0
fi

src=/var/cache/fivefold/tansu-src
rm -rf "$src"
mkdir -p "$src/fetch/src"
# Brings the crates into cargo's cache through crates.io.
cat >"$src/fetch/Cargo.toml" <<TOML
[package]
name = "tansu-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
tansu = "=$version"
tansu-broker = "=$version"
TOML
: >"$src/fetch/src/lib.rs"
(cd "$src/fetch" && cargo fetch -q)
cache=${CARGO_HOME:-$HOME/.cargo}/registry/cache
crate_file() { ls "$cache"/*/"$1-$version.crate" | head -n1; }
tar xzf "$(crate_file tansu)" -C "$src"
tar xzf "$(crate_file tansu-broker)" -C "$src"
for p in "$here"/*.patch; do
  patch -s -d "$src" -p1 <"$p"
done
# A workspace of the two, the broker replaced by the patched copy, built
# with the versions tansu's own lock file names.
cp "$src/tansu-$version/Cargo.lock" "$src/Cargo.lock"
cat >"$src/Cargo.toml" <<TOML
[workspace]
members = ["tansu-$version"]
resolver = "2"

[patch.crates-io]
tansu-broker = { path = "tansu-broker-$version" }
TOML
(cd "$src" && CARGO_TARGET_DIR=/var/cache/fivefold/tansu-build \
  cargo build --release -p tansu --features dynostore,libsql)
mkdir -p "$root/bin"
cp /var/cache/fivefold/tansu-build/release/tansu "$root/bin/tansu.new"
mv "$root/bin/tansu.new" "$root/bin/tansu"
rm -f "$root"/tansu-*.built
touch "$stamp"
