#!/usr/bin/env python3
"""Checks the money invariants in a stopped gateway's database; exits 1 when one fails.

    ledger_check.py PATH             a SQLite file
    ledger_check.py postgres://...   a PostgreSQL database, read with psql

- each user's balance equals the sum of their ledger entries, and each entry starts where the
  previous one ended;
- each charged request has exactly one consume entry of exactly its cost, and no consume entry
  lacks a usage row.
"""
import json
import sqlite3
import subprocess
import sys

target = sys.argv[1]

if target.startswith(("postgres://", "postgresql://")):
    def rows(sql):
        out = subprocess.run(["psql", target, "-X", "-At", "-F", "\t", "-c", sql], check=True, capture_output=True, text=True).stdout
        return [tuple(int(v) if v.lstrip("-").isdigit() else v for v in line.split("\t")) for line in out.splitlines() if line]
else:
    db = sqlite3.connect(f"file:{target}?mode=ro", uri=True)

    def rows(sql):
        return db.execute(sql).fetchall()

problems = []
ledger = {}
for user_id, before, amount, after in rows(
        "SELECT user_id, balance_before_micros, amount_micros, balance_after_micros FROM credit_ledger ORDER BY user_id, id"):
    ledger.setdefault(user_id, []).append((before, amount, after))
for user_id, balance in rows("SELECT id, balance_micros FROM users"):
    running = 0
    for before, amount, after in ledger.get(user_id, []):
        if before != running or after != before + amount:
            problems.append(f"user {user_id}: ledger chain broken at before={before} running={running}")
            break
        running = after
    if running != balance:
        problems.append(f"user {user_id}: balance {balance} but ledger sums to {running}")
unmatched = rows("""
    SELECT COUNT(*) FROM usage_logs u LEFT JOIN credit_ledger l ON l.reference_id = u.request_id
    WHERE u.cost_micros > 0 AND (l.id IS NULL OR l.kind != 'consume' OR l.amount_micros != -u.cost_micros)""")[0][0]
orphans = rows("""
    SELECT COUNT(*) FROM credit_ledger l LEFT JOIN usage_logs u ON u.request_id = l.reference_id
    WHERE l.kind = 'consume' AND u.id IS NULL""")[0][0]
if unmatched:
    problems.append(f"{unmatched} charged requests without a matching consume entry")
if orphans:
    problems.append(f"{orphans} consume entries without a usage row")
usage_rows = rows("SELECT COUNT(*) FROM usage_logs")[0][0]
entries = rows("SELECT COUNT(*) FROM credit_ledger")[0][0]
print(json.dumps({"balanced": not problems, "usage_rows": usage_rows, "ledger_entries": entries, "problems": problems}))
sys.exit(1 if problems else 0)
