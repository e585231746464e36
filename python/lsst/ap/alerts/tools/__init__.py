"""The ``ap-alerts`` command line and what it runs: inspect, validate, render, demo."""
