"""Benchmarks for modelog: ``python -m bench`` runs them all, prints a table and writes JSON to bench/results/."""
