#!/usr/bin/env bash
# Idempotent: make tests/bench/datatrove/.venv (datatrove's own venv: it pins trafilatura<1.12, so it must not
# share the project venv). Rebuilt when missing, broken, or when requirements.txt changed. Needs libmagic1.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]] &&
  "$venv/bin/python" -c 'import datatrove, trafilatura, warcio, cchardet, magic, xxhash, spacy, tokenizers' 2>/dev/null; then
  echo "datatrove bench venv already up to date: $venv"
  exit 0
fi
rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/python" -c 'import datatrove, trafilatura, warcio, cchardet, magic, xxhash, spacy, tokenizers'
echo "$want" >"$stamp"
echo "datatrove bench venv created: $venv ($(grep -E '^(datatrove|trafilatura)==' "$here/requirements.txt" | paste -sd' '))"
