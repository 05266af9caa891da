"""The connection table: TCP/UDP states and timeouts as tables, rates; pure."""
