"""The SQLite FTS5 floor for bench/search.sh: the same books and queries as
`search-bench engine`, in an FTS5 table (unicode61 with diacritics removed, prefix
indexes, bm25 weights title 3, author 2, description 1). FTS5 has no typo tolerance, so
its answers to the typo'd queries are mostly empty: this is a floor for speed, not for
quality. Words are OR-joined, the last one as a prefix. Prints one JSON line."""
import json
import os
import sqlite3
import sys
import threading
import time

out = sys.argv[1]
database = os.path.join(out, "fts5.db")
if os.path.exists(database):
    os.remove(database)
connection = sqlite3.connect(database, check_same_thread=False)
connection.execute(
    "CREATE VIRTUAL TABLE books USING fts5(title, author, description, category UNINDEXED,"
    " tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
)
with open(os.path.join(out, "books.jsonl"), encoding="utf-8") as lines:
    rows = [json.loads(line) for line in lines]
started = time.perf_counter()
connection.executemany(
    "INSERT INTO books(rowid, title, author, description, category) VALUES (?, ?, ?, ?, ?)",
    [(r["id"], r["title"], r["author"], r["description"], r["category"]) for r in rows],
)
connection.commit()
index_seconds = time.perf_counter() - started
with open(os.path.join(out, "queries.json"), encoding="utf-8") as f:
    queries = json.load(f)


def match_expression(text):
    words = ["".join(c for c in word if c.isalnum()) for word in text.split()]
    words = [w for w in words if w]
    if not words:
        return None
    return " OR ".join(f'"{w}"' for w in words[:-1]) + (" OR " if len(words) > 1 else "") + f'"{words[-1]}"*'


SEARCH = "SELECT rowid FROM books WHERE books MATCH ? ORDER BY bm25(books, 3.0, 2.0, 1.0) LIMIT 20"
SUGGEST = "SELECT title FROM books WHERE books MATCH ? LIMIT 9"


def timed(sql, expressions, db):
    times = []
    for expression in expressions:
        begun = time.perf_counter()
        if expression:
            db.execute(sql, (expression,)).fetchall()
        times.append((time.perf_counter() - begun) * 1000)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, round((len(times) - 1) * 0.99))]


searches = [match_expression(q) for q in queries["searches"]]
prefixes = [("{title} : " + (match_expression(p) or '""')) for p in queries["prefixes"]]
search_p50, search_p99 = timed(SEARCH, searches, connection)
suggest_p50, suggest_p99 = timed(SUGGEST, prefixes, connection)

done = [0] * 16
deadline = time.perf_counter() + 5.0


def client(number):
    db = sqlite3.connect(database)
    n = number
    while time.perf_counter() < deadline:
        expression = searches[n % len(searches)]
        if expression:
            db.execute(SEARCH, (expression,)).fetchall()
        done[number] += 1
        n += 16


threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({
    "books": len(rows), "index_seconds": index_seconds,
    "search_p50_ms": search_p50, "search_p99_ms": search_p99,
    "suggest_p50_ms": suggest_p50, "suggest_p99_ms": suggest_p99,
    "search_qps_16_clients": sum(done) / 5.0,
}))
