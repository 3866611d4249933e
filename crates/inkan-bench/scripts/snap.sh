#!/bin/bash
# snap.sh OUT_DIR SNAPS: while inkan-bench runs with --out OUT_DIR/report.json, copies each of
# its SQLite databases with its -wal file every 3 s into SNAPS/N/, for walstat.py. Stop it
# (kill) when the bench ends.
parent=$1; out=$2; i=0
while true; do
  for d in "$parent"/data-*; do
    [ -d "$d" ] || continue
    for db in "$d"/*.db; do
      [ -f "$db-wal" ] || continue
      mkdir -p "$out/$i"; cp "$db" "$db-wal" "$out/$i/" 2>/dev/null
    done
  done
  i=$((i+1)); sleep 3
done
