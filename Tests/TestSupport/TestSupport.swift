// Shared helpers for tests: fixture paths (Fixtures.swift) and relative-error comparison.
