#!/usr/bin/env python3
"""Attributes the frames of copies of a SQLite database's WAL to its tables and indexes.

usage: walstat.py SNAPDIR...   (each SNAPDIR holds X.db and X.db-wal, copied together while the
bench ran: see snap.sh). Each -wal file's frames are read from its header up to the first frame
of an older generation (salt mismatch); every frame's page is named with SQLite's dbstat (Python's
sqlite3 has it) on a copy of that snapshot. Consecutive snapshots of one WAL count its frames
again, so read the shares and the frames per commit, not the totals. docs/performance.md shows
what it found."""
import sqlite3, struct, sys, glob, os, shutil, tempfile, collections

def frames(wal):
    data = open(wal, 'rb').read()
    if len(data) < 32: return [], 0
    magic, ver, psize, ckpt, s1, s2 = struct.unpack('>6I', data[:24])
    out, commits, off = [], 0, 32
    while off + 24 + psize <= len(data):
        pno, dbsize, fs1, fs2 = struct.unpack('>4I', data[off:off+16])
        if (fs1, fs2) != (s1, s2): break
        out.append(pno)
        if dbsize: commits += 1
        off += 24 + psize
    return out, commits

total = collections.Counter(); ncommits = 0; nframes = 0
for d in sys.argv[1:]:
    for db in glob.glob(os.path.join(d, '*.db')):
        wal = db + '-wal'
        if not os.path.exists(wal): continue
        fr, commits = frames(wal)
        if not fr: continue
        tmp = tempfile.mkdtemp()
        shutil.copy(db, tmp + '/x.db'); shutil.copy(wal, tmp + '/x.db-wal')
        c = sqlite3.connect(tmp + '/x.db')
        names = dict(c.execute('SELECT pageno, name FROM dbstat'))
        c.close(); shutil.rmtree(tmp)
        for p in fr: total[names.get(p, 'page 1' if p == 1 else '?')] += 1
        ncommits += commits; nframes += len(fr)
print(f'frames {nframes}, commits {ncommits}, frames per commit {nframes/max(ncommits,1):.2f}')
for name, n in total.most_common():
    print(f'{name:40s} {n:8d} {100*n/nframes:5.1f}%  {n/max(ncommits,1):.2f}/commit')
