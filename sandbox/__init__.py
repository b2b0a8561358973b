"""The Slack sandbox: a local stand-in for Slack (see docs/sandbox.md).

- `server.Sandbox`: the aiohttp server that ties everything together
- `records`, `state.Workspace`: what Slack remembers (users, channels, messages, views, files)
- `webapi`, `methods`: the Web API (`/api/{method}`), `throttle`: rate limits and faults
- `uploads`: file bytes; `respond`: response_urls
- `driver.Driver`: a person's actions, sent to the bot through `delivery` (signed HTTP) or
  `socket_mode` (Socket Mode envelopes)
- `ui_api` and `ui/`: the browser UI; `cli`: `forest-bot sandbox serve`; `testing`: helpers
"""
