#!/usr/bin/env python3
"""Checks the money invariants in a stopped gateway's SQLite database; exits 1 when one fails.

- each user's balance equals the sum of their ledger entries, and each entry starts where the
  previous one ended;
- each charged request has exactly one consume entry of exactly its cost, and no consume entry
  lacks a usage row.
"""
import json
import sqlite3
import sys

db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
problems = []
for user_id, balance in db.execute("SELECT id, balance_micros FROM users"):
    running = 0
    for before, amount, after in db.execute(
            "SELECT balance_before_micros, amount_micros, balance_after_micros FROM credit_ledger WHERE user_id = ? ORDER BY id",
            (user_id,)):
        if before != running or after != before + amount:
            problems.append(f"user {user_id}: ledger chain broken at before={before} running={running}")
            break
        running = after
    if running != balance:
        problems.append(f"user {user_id}: balance {balance} but ledger sums to {running}")
unmatched = db.execute("""
    SELECT COUNT(*) FROM usage_logs u LEFT JOIN credit_ledger l ON l.reference_id = u.request_id
    WHERE u.cost_micros > 0 AND (l.id IS NULL OR l.kind != 'consume' OR l.amount_micros != -u.cost_micros)""").fetchone()[0]
orphans = db.execute("""
    SELECT COUNT(*) FROM credit_ledger l LEFT JOIN usage_logs u ON u.request_id = l.reference_id
    WHERE l.kind = 'consume' AND u.id IS NULL""").fetchone()[0]
if unmatched:
    problems.append(f"{unmatched} charged requests without a matching consume entry")
if orphans:
    problems.append(f"{orphans} consume entries without a usage row")
usage_rows = db.execute("SELECT COUNT(*) FROM usage_logs").fetchone()[0]
entries = db.execute("SELECT COUNT(*) FROM credit_ledger").fetchone()[0]
print(json.dumps({"balanced": not problems, "usage_rows": usage_rows, "ledger_entries": entries, "problems": problems}))
sys.exit(1 if problems else 0)
