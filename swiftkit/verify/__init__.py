"""Prove the identity after training: verdict.py asks and scores, remote.py serves `verify
--url`, report.py, layout.py and html.py write the report; probes.py and scoring.py say what
is asked and how an answer is judged."""
