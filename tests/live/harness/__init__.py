"""Live-test harness: namespace pairs, real servers and real clients (see docs/testing.md)."""
