#!/usr/bin/env bash
# make_project.sh OUT -- writes OUT, content version 2 of the demo game: a
# copy of examples/demo with the files of v2/content replacing theirs and
# v2/game.project appended to its game.project (volumes at version 2).
# `lutool bundle OUT -o BUNDLE` then makes the release's bundle and
# `lutool release BUNDLE --version 2` its version document (tools/demo).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1
rm -rf "$out"
mkdir -p "$out"
cp -r "$here/../content" "$out/content"
cp -r "$here/content/." "$out/content/"
cat "$here/../game.project" "$here/game.project" > "$out/game.project"
