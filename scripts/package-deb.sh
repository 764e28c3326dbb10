#!/usr/bin/env bash
# Build the Debian package; its path is the last line printed.
#
#   scripts/package-deb.sh                  # the shipping build ([profile.release])
#   scripts/package-deb.sh --profile dev    # a quick build of the same package (the test suite)
#
# Installs cargo-deb from crates.io when missing (and dpkg-dev, for the
# shared-library dependencies). Builds the binary, then makes with that very
# binary what the package ships besides it, into target/deb-assets/:
#   - the man pages (`credbroker man --out`, one per subcommand);
#   - the bash, zsh and fish completions (`credbroker completions SHELL`);
#   - the user unit: systemd/credbroker.service with
#     ExecStart=/usr/bin/credbroker daemon.
# Then cargo-deb packages them with the files [package.metadata.deb] in
# Cargo.toml lists (docs, copyright, changelog) into target/debian/.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
if [ "${1:-}" = "--profile" ]; then profile="$2"; shift 2; fi
[ $# -eq 0 ] || { echo "usage: $0 [--profile NAME]" >&2; exit 2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# The cargo-deb release this script is written against.
cargo_deb_version=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$cargo_deb_version"; then
    echo "==> cargo install --locked cargo-deb $cargo_deb_version" >&2
    nice -n 10 cargo install --quiet --locked cargo-deb --version "$cargo_deb_version" >&2
fi
if ! command -v dpkg-shlibdeps >/dev/null; then
    echo "==> installing Debian packages: dpkg-dev" >&2
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
fi

case "$profile" in
    dev) out_dir=target/debug ;;
    *) out_dir="target/$profile" ;;
esac
echo "==> cargo build --profile $profile" >&2
nice -n 10 cargo build --quiet --locked --profile "$profile" --bin credbroker
bin="$out_dir/credbroker"

assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
"$bin" man --out "$assets/man" >/dev/null
"$bin" completions bash >"$assets/completions/credbroker"
"$bin" completions zsh >"$assets/completions/_credbroker"
"$bin" completions fish >"$assets/completions/credbroker.fish"
sed 's|^ExecStart=%h/\.cargo/bin/credbroker daemon$|ExecStart=/usr/bin/credbroker daemon|' \
    systemd/credbroker.service >"$assets/credbroker.service"
grep -qx 'ExecStart=/usr/bin/credbroker daemon' "$assets/credbroker.service" || {
    echo "systemd/credbroker.service: no ExecStart line to point at /usr/bin/credbroker" >&2
    exit 1
}

echo "==> cargo deb --profile $profile" >&2
mkdir -p target/debian
fast=()
[ "$profile" = release ] || fast=(--fast) # a test build: quicker compression
deb="$(cargo deb --quiet --locked --no-build --profile "$profile" "${fast[@]}" --output target/debian/ | tail -n1)"
[ -f "$deb" ] || { echo "cargo deb did not name the package it made (got: $deb)" >&2; exit 1; }
realpath "$deb"
