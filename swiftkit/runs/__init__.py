"""Run folders: folders.py (naming, checkpoints, status), manifest.py (manifest.json),
resolve.py (`latest` / run / checkpoint -> Target), plan.py (everything decided before launch)."""
