"""Prove the identity after training (and, optionally, during it).

probes.py (what is asked), client.py (one OpenAI-compatible client for every server),
pair.py (one `swift deploy` for the base model and the adapter), verdict.py (verify(): ask,
score, report), remote.py (`verify --url` targets),
report.py (VerifyReport, report.json/report.md/loss.png), stopcheck.py (the stop-when-verified
plugin's settings and log), scoring.py (pure Python, also loaded by path inside ms-swift).
"""
