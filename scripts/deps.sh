# SPDX-License-Identifier: MIT
# Sourced by the user commands: installs the Debian packages they need.
# ensure_packages PKG...  installs those missing (apt-get update first; an
# index that fails to update is tolerated, a package that does not install
# is not). On a system without dpkg it only says what it would need.

ensure_packages() {
    missing=""
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "note: not a Debian system; make sure these are installed: $*"
        return 0
    fi
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing:$missing"
    $sudo apt-get update -qq || echo "warning: apt-get update failed for some index; installing anyway"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing ||
        echo "warning: apt-get install reported an error; checking what installed"
    for p in $missing; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
            echo "error: package $p could not be installed" >&2
            return 1
        }
    done
}

# add_architecture ARCH...  enables Debian multiarch for foreign packages.
add_architecture() {
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    for a in "$@"; do
        dpkg --print-foreign-architectures | grep -qx "$a" || $sudo dpkg --add-architecture "$a"
    done
}
