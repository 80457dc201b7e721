// Shared helpers for tests: fixture paths and relative-error comparison.
