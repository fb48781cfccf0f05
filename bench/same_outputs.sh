#!/usr/bin/env bash
# Shows that a refactor changed no output: builds every bank in source/ (plain, and --cloze on
# letter paper) with the code at REV and with the working tree, and compares every file byte
# for byte.
#   bash bench/same_outputs.sh [REV]     (default: HEAD; run after `bash tasks.sh build`)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-HEAD}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/code" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/code" "$rev" >/dev/null 2>&1
ln -s "$PWD/node_modules" "$work/code/node_modules"  # MathJax: without it, no formula is typeset on either side
status=0
for side in before after; do
  if [ $side = after ]; then
    # The working tree's files (committed or not) at the same path as REV's: WeasyPrint names
    # an image after its URL, which holds the code's folder, so only one path compares.
    git -C "$work/code" ls-files -z | (cd "$work/code" && xargs -0 rm -f)
    git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -C "$work/code" -xf -
  fi
  code="$work/code"
  # Each side builds its own copy of the banks, so neither sees the other's lock changes.
  mkdir -p "$work/$side-bank"
  cp -r source/. "$work/$side-bank/"
  for bank in "$work/$side-bank"/*.yaml; do
    name=$(basename "$bank" .yaml)
    # The working tree's python runs both: only the qbank package (found beside build.py) differs.
    .venv/bin/python "$code/build.py" "$bank" --out "$work/$side/$name-plain" >/dev/null
    .venv/bin/python "$code/build.py" "$bank" --out "$work/$side/$name-cloze" --cloze --paper letter >/dev/null
  done
done
for file in "$work"/before/*/* "$work"/before-bank/*.lock; do
  other=${file/\/before/\/after}
  if cmp -s "$file" "$other"; then echo "same       ${file#"$work"/}"; else echo "DIFFERENT  ${file#"$work"/}"; status=1; fi
done
exit $status
