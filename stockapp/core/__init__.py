"""The plumbing every capability uses: the engine and driver, errors, guards,
conditional requests, headers, the request log, input rules, keyset cursors, the
clock and the API document's machinery. It imports no capability."""
