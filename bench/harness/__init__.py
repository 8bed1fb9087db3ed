"""modelyard's benchmark harness: a fake upstream, three gateways on one core, wrk, and a report."""
