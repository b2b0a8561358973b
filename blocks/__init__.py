"""Block Kit rendering for forest-slack: the whole Slack look of the product, as pure functions.

No I/O, no clock, no randomness: the same input renders byte-identical JSON, so the bot's
refresher can hash the output and skip chat.update when nothing changed.

- `blocks.from_forest`: Forest's protobuf responses → the view model (`blocks.model`).
- `blocks.release`: the release message. `blocks.plan_thread`: plan posts for its thread.
- `blocks.modals`, `blocks.ephemeral`, `blocks.notices`, `blocks.commands`, `blocks.home`.
- `blocks.ids`: action / callback / input ids and the button value / private_metadata codecs.
- `blocks.terraform`: the terraform plan summary parser.
- `blocks.limits`: Slack's limits and the checker every output is tested against.
"""
