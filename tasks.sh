#!/usr/bin/env bash
# The project's two entry points on a fresh machine (see README.md):
#   bash tasks.sh build   install what the outputs need, then build every bank into dist/
#   bash tasks.sh test    the same set-up plus the test extras (Anki's engine, epubcheck + Java,
#                         Ace by DAISY + Node.js + Chromium, Playwright's driver), checks that each
#                         of those programs starts, then pytest
#   bash tasks.sh bench   the benchmark (see bench/benchmark.py)
# Both are idempotent: a second run installs nothing and goes straight to the work.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
# What WeasyPrint's install guide asks of Debian/Ubuntu, plus fontconfig's fc-match (we locate
# fonts with it) and the font stack of templates/fonts.yaml: a fresh machine has no CJK font
# (Chinese would print as boxes), no colour emoji and few symbols. Installed sizes on Debian 12:
# fonts-noto-cjk 89 MB (CJK), fonts-noto-core 42 MB (Noto Sans for Latin text, Noto Sans Math
# and Symbols2), fonts-noto-color-emoji 10.5 MB, fonts-dejavu-core 2.9 MB (the widest symbol
# net; usually already there), fonts-noto-mono 1.1 MB (Noto Sans Mono, for code),
# fonts-dejavu-extra 7.2 MB (DejaVu Math TeX Gyre: the EPUB's math font, whose OpenType MATH
# table stretches brackets; Debian's Noto Sans Math has none).
# libharfbuzz-subset0 makes WeasyPrint's font subsetting fast (~3 s instead of ~20 s per page set).
SYSTEM_PACKAGES=(python3 python3-venv python3-pip libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig
                 fonts-noto-cjk fonts-noto-core fonts-noto-mono fonts-noto-color-emoji fonts-dejavu-core
                 fonts-dejavu-extra)
# What the test extras need to start that their own docs do not name: Playwright's Node driver
# (.venv/.../playwright/driver/node, from PyPI) links libatomic.so.1, which a minimal Debian
# lacks (`ldd` on it lists what it links).
TEST_LIBRARIES=(libatomic1)
# The browser of Ace by DAISY and of the preview's test: Debian's, as nothing may download its
# own. Ubuntu ships Chromium only as a snap, which these tests cannot drive (see test_browsers).
BROWSER_PACKAGES=(chromium)
JAVA_PACKAGES=(default-jre-headless)  # epubcheck is a Java program; only installed when java is missing
# npm installs MathJax for the preview (package.json) and, for the tests, Ace by DAISY (tests/ace);
# Debian's nodejs and npm only where no npm is installed (NodeSource's nodejs brings its own npm
# and conflicts with Debian's).
NODE_PACKAGES=(nodejs npm)
ACE=tests/ace  # package.json and package-lock.json pin Ace; its node_modules/ stays out of git

say() { printf '\033[1m%s\033[0m\n' "$*" >&2; }

missing_debian_packages() {
  local package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || echo "$package"
  done
}

install_system_packages() {
  if ! command -v apt-get >/dev/null 2>&1; then
    say "Not a Debian/Ubuntu machine: install Pango, HarfBuzz, fontconfig and the fonts yourself (README.md, 'Other systems')."
    return 0
  fi
  local wanted=("${SYSTEM_PACKAGES[@]}")
  command -v npm >/dev/null 2>&1 || wanted+=("${NODE_PACKAGES[@]}")
  if [ "${1:-}" = test ]; then
    wanted+=("${TEST_LIBRARIES[@]}")
    is_ubuntu || wanted+=("${BROWSER_PACKAGES[@]}")
    command -v java >/dev/null 2>&1 || wanted+=("${JAVA_PACKAGES[@]}")
  fi
  local missing
  missing=$(missing_debian_packages "${wanted[@]}")
  [ -z "$missing" ] && return 0
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  say "Installing system packages: $(echo $missing)"
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
}

is_ubuntu() {
  [ -r /etc/os-release ] && grep -qE '^ID=("?)ubuntu\1$' /etc/os-release
}

pick_python() {
  local candidate
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  say "Python 3.11 or newer with venv is needed."; exit 1
}

install_python_packages() {
  local extras=$1 stamp="$VENV/.installed"
  # A virtual environment: system Pythons refuse `pip install` (PEP 668), and this keeps the
  # project's pinned tools apart from the machine's.
  [ -x "$VENV/bin/python" ] || "$(pick_python)" -m venv "$VENV"
  local wanted
  wanted="$extras $(cat pyproject.toml | sha256sum | cut -c1-16)"
  # The test extra includes everything a plain build needs.
  if [ -f "$stamp" ] && { grep -qxF "$wanted" "$stamp" || grep -qxF "[test]${wanted#"$extras"}" "$stamp"; }; then
    return 0
  fi
  say "Installing Python packages ($extras)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # Editable, so build.py and the console script read templates/ from this checkout.
  "$VENV/bin/python" -m pip install -q -e ".$extras"
  echo "$wanted" >> "$stamp"
}

install_node_packages() {
  # The npm packages pinned by $1/package-lock.json (MathJax for the preview; Ace for the tests);
  # npm ci again only when that lock changed. No install scripts: the only one is puppeteer's
  # download of its own browser, and the tests run Debian's chromium instead.
  local folder=$1 stamp="$1/node_modules/.qbank-installed" wanted
  wanted=$(sha256sum "$folder/package-lock.json" | cut -c1-16)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && return 0
  if ! command -v npm >/dev/null 2>&1; then
    say "npm is missing: install Node.js and npm, then run this again (the preview shows math as TeX until then)."
    return 0
  fi
  say "Installing npm packages in $folder/"
  (cd "$folder" && PUPPETEER_SKIP_DOWNLOAD=true npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$wanted" > "$stamp"
}

missing_libraries() {  # the shared libraries a binary links that the machine lacks
  ldd "$1" 2>/dev/null | awk '/=> not found/ {print $1}'
}

debian_package_of() {
  # Debian names a library's package after its soname (policy 8.1: libatomic.so.1 ->
  # libatomic1, libgcc_s.so.1 -> libgcc-s1, libnss3.so -> libnss3).
  local soname=$1 stem version package
  stem=${soname%%.so*}; version=${soname#*.so}; version=${version#.}; version=${version%%.*}
  package=$(echo "$stem" | tr '_' '-' | tr '[:upper:]' '[:lower:]')
  [[ $package =~ [0-9]$ && -n $version ]] && package="$package-"
  echo "$package$version"
}

check_starts() {
  # Starts one program the tests drive; if it cannot start, stops with one line that names
  # what is missing and how to install it, instead of a stack trace later inside pytest.
  local what=$1 install=$2 binary=$3; shift 3
  local output
  if ! command -v "$binary" >/dev/null 2>&1; then
    say "error: $what ($binary) is not installed; $install"
    exit 1
  fi
  output=$("$binary" "$@" 2>&1 >/dev/null) && return 0
  local libraries library packages=()
  libraries=$(missing_libraries "$binary")
  if [ -n "$libraries" ]; then
    for library in $libraries; do packages+=("$(debian_package_of "$library")"); done
    say "error: $what ($binary) cannot start: $(echo $libraries | sed 's/ /, /g') is missing; sudo apt-get install ${packages[*]}"
  else
    say "error: $what ($binary) cannot start: $(echo "$output" | head -n 1); $install"
  fi
  exit 1
}

check_browser() {
  # Chromium for the preview's Playwright test and for Ace by DAISY: Debian's package.
  local chromium=/usr/lib/chromium/chromium  # /usr/bin/chromium is a shell script around it
  if [ -x "$chromium" ]; then
    check_starts "Chromium" "sudo apt-get install chromium" "$chromium" --headless --no-sandbox --version
  elif is_ubuntu; then
    say "error: Ubuntu ships Chromium only as a snap, which the browser tests cannot drive; run them on Debian 12 (as CI does), or leave them out: bash tasks.sh test -m 'not browser and not ace'"
    exit 1
  else
    say "error: Chromium is missing ($chromium); sudo apt-get install chromium"
    exit 1
  fi
}

check_test_readers() {
  # Every real reader the tests start, started once now (well under a second each).
  local driver
  driver=$("$VENV/bin/python" -c 'import pathlib, playwright; print(pathlib.Path(playwright.__file__).parent / "driver" / "node")')
  check_starts "Playwright's driver" "reinstall it: rm -r .venv and run this again" "$driver" --version
  check_starts "Java, for epubcheck" "sudo apt-get install default-jre-headless" java -version
  check_starts "Node.js, for Ace by DAISY" "sudo apt-get install nodejs npm" node --version
  browser_tests_deselected "$@" || check_browser
}

browser_tests_deselected() {
  local argument
  for argument in "$@"; do
    [[ $argument == *"not browser"* && $argument == *"not ace"* ]] && return 0
  done
  return 1
}

case "${1:-}" in
  build)
    shift
    install_system_packages
    install_python_packages ""
    install_node_packages .
    exec "$VENV/bin/python" build.py "$@"
    ;;
  test)
    shift
    install_system_packages test
    install_python_packages "[test]"
    install_node_packages .
    install_node_packages "$ACE"
    check_test_readers "$@"
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  bench)
    shift
    install_system_packages
    install_python_packages ""
    exec "$VENV/bin/python" bench/benchmark.py "$@"
    ;;
  *)
    echo "usage: bash tasks.sh build|test|bench [arguments for build.py, pytest or the benchmark]" >&2
    exit 2
    ;;
esac
