#!/usr/bin/env bash
# make_project.sh OUT -- writes OUT, content version 2 of the demo game: a
# copy of examples/demo with the files of v2/content replacing theirs and
# the keys of v2/game.project replacing theirs in its game.project (volumes
# at version 2; a key set twice in one file would get lutool bundle's
# warning).
# `lutool bundle OUT -o BUNDLE` then makes the release's bundle and
# `lutool release BUNDLE --version 2` its version document (tools/demo).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1
rm -rf "$out"
mkdir -p "$out"
cp -r "$here/../content" "$out/content"
cp -r "$here/content/." "$out/content/"
# Each "key = value" of v2/game.project replaces the same key of the same
# section in ../game.project; a key it lacks is added at the end of the file.
awk '
    function key(line) { sub(/[ \t]*=.*/, "", line); gsub(/^[ \t]+/, "", line); return line }
    /^[ \t]*\[/ { sec = $0; gsub(/[ \t\[\]]/, "", sec); if (FNR == NR) next }
    FNR == NR { if ($0 ~ /=/ && $0 !~ /^[ \t]*[#;]/) { k = sec "." key($0); val[k] = $0; order[++n] = k } next }
    $0 ~ /=/ && $0 !~ /^[ \t]*[#;]/ { k = sec "." key($0); if (k in val) { print val[k]; done[k] = 1; next } }
    { print }
    END { for (i = 1; i <= n; i++) if (!(order[i] in done)) { s = order[i]; sub(/\.[^.]*$/, "", s); print "[" s "]"; print val[order[i]] } }
' "$here/game.project" "$here/../game.project" > "$out/game.project"
