"""What every HTTP server the sandbox runs on a background thread shares."""

from __future__ import annotations

# How often a serving thread looks up from `select` to see whether it was asked to stop
# (socketserver's `serve_forever(poll_interval)`). Its default, 0.5 s, was what every stop
# waited, a quarter of a second on average, twice or three times per integration test; twenty
# looks a second cost no CPU worth measuring.
POLL_INTERVAL = 0.05
