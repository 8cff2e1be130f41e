"""Prove the identity after training: ask the probes, score the answers, write the report."""
