"""Prove the identity after training (and, optionally, during it).

probes.py (what is asked), ask.py (`swift infer`), verdict.py (verify(): ask, score, report),
report.py (VerifyReport, report.json/report.md/loss.png), stopcheck.py (the stop-when-verified
plugin's settings and log), scoring.py (pure Python, also loaded by path inside ms-swift).
"""
