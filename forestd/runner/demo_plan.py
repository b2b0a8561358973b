"""Plans that look exactly like `terraform plan -no-color` output, for the demo destination.

`demo_plan(lines=..., seed=...)` is deterministic for a seed and sized by a target line count,
from about ten lines (one resource) to several megabytes: refresh lines, the legend of the
symbols used, resource blocks that are created (`+`), updated in place (`~`), destroyed (`-`)
and replaced (`-/+`) with attribute diffs, and the closing `Plan: X to add, Y to change, Z to
destroy.` line whose counts match the blocks (a replacement counts one add and one destroy).
"""

from __future__ import annotations

import random
from collections.abc import Callable

_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("aws_instance", ("ami", "instance_type", "subnet_id", "key_name", "monitoring")),
    ("aws_security_group", ("description", "name", "vpc_id", "revoke_rules_on_delete")),
    ("aws_s3_bucket", ("bucket", "force_destroy", "object_lock_enabled", "acl")),
    ("aws_iam_role", ("name", "path", "max_session_duration", "assume_role_policy")),
    ("aws_db_instance", ("engine", "engine_version", "instance_class", "allocated_storage")),
    ("aws_lambda_function", ("function_name", "runtime", "handler", "memory_size", "timeout")),
    ("google_compute_instance", ("machine_type", "zone", "can_ip_forward", "hostname")),
    ("kubernetes_deployment", ("wait_for_rollout", "replicas", "namespace", "image")),
    ("cloudflare_record", ("zone_id", "type", "ttl", "proxied", "value")),
)
_NAMES = ("api", "web", "worker", "cache", "logs", "queue", "billing", "auth", "edge", "search")
_COMPUTED = ("arn", "id", "owner_id", "tags_all", "private_ip", "self_link")
_LEGEND = {
    "+": "  + create",
    "~": "  ~ update in-place",
    "-": "  - destroy",
    "-/+": "-/+ destroy and then create replacement",
}
_HEADER = {
    "+": "will be created",
    "~": "will be updated in-place",
    "-": "will be destroyed",
    "-/+": "must be replaced",
}


def demo_plan(lines: int = 40, seed: int | str = 0) -> str:
    """A terraform-looking plan of about `lines` lines (at least one resource)."""
    rng = random.Random(str(seed))
    blocks: list[tuple[str, list[str]]] = []
    used: set[str] = set()
    body_lines = 0
    # legend (<= 6) + "Terraform will perform" + blanks + Plan line: about 12 lines of frame.
    budget = max(1, lines - 12)
    index = 0
    while not blocks or body_lines < budget:
        action = rng.choices(("+", "~", "-", "-/+"), weights=(5, 4, 2, 1))[0]
        block = _block(rng, action, index, budget - body_lines)
        blocks.append((action, block))
        used.add(action)
        body_lines += len(block) + 1
        index += 1
    add = sum(1 for action, _ in blocks if action in ("+", "-/+"))
    change = sum(1 for action, _ in blocks if action == "~")
    destroy = sum(1 for action, _ in blocks if action in ("-", "-/+"))

    out: list[str] = []
    refreshed = [b for b in blocks if b[0] != "+"][:5]
    for _action, block in refreshed:
        address = block[0].split("# ", 1)[1].split(" ", 1)[0]
        out.append(f"{address}: Refreshing state... [id={_hex(rng, 8)}]")
    if refreshed:
        out.append("")
    out += [
        "Terraform used the selected providers to generate the following execution",
        "plan. Resource actions are indicated with the following symbols:",
        *(_LEGEND[a] for a in ("+", "~", "-", "-/+") if a in used),
        "",
        "Terraform will perform the following actions:",
        "",
    ]
    for _action, block in blocks:
        out += block
        out.append("")
    out.append(f"Plan: {add} to add, {change} to change, {destroy} to destroy.")
    return "\n".join(out) + "\n"


def demo_plan_bytes(size: int, seed: int | str = 0) -> str:
    """A plan of at least `size` bytes (the line count grows until it is reached)."""
    lines = max(10, size // 40)
    text = demo_plan(lines, seed)
    while len(text.encode()) < size:
        lines = int(lines * size / max(1, len(text.encode()))) + 10
        text = demo_plan(lines, seed)
    return text


def _block(rng: random.Random, action: str, index: int, room: int) -> list[str]:
    rtype, attributes = rng.choice(_TYPES)
    name = f"{rng.choice(_NAMES)}_{index}"
    address = f"{rtype}.{name}"
    symbol = {"+": "  +", "~": "  ~", "-": "  -", "-/+": "-/+"}[action]
    lines = [f"  # {address} {_HEADER[action]}", f'{symbol} resource "{rtype}" "{name}" {{']
    width = max(len(a) for a in (*attributes, *_COMPUTED))
    # Big plans get long resources (as real modules do); small plans stay small.
    extra = min(max(0, room - 8), rng.randint(0, 40)) if room > 60 else 0
    fields = list(attributes) + [f"{rng.choice(attributes)}_{i}" for i in range(extra // 2)]
    width = max(width, *(len(f) for f in fields))
    render: dict[str, Callable[[str], str]] = {
        "+": lambda a: f"      + {a.ljust(width)} = {_value(rng)}",
        "-": lambda a: f"      - {a.ljust(width)} = {_value(rng)} -> null",
        "~": lambda a: f"      ~ {a.ljust(width)} = {_value(rng)} -> {_value(rng)}",
    }
    if action == "+":
        lines += [render["+"](a) for a in fields]
        lines.append(f"      + {'id'.ljust(width)} = (known after apply)")
    elif action == "-":
        lines += [render["-"](a) for a in fields]
    elif action == "~":
        lines.append(f'        {"id".ljust(width)} = "{_hex(rng, 12)}"')
        changed = fields[: max(1, len(fields) // 2)]
        lines += [render["~"](a) for a in changed]
        hidden = len(fields) - len(changed) + rng.randint(1, 9)
        lines.append(f"        # ({hidden} unchanged attributes hidden)")
    else:
        forced = fields[0]
        lines.append(
            f"      ~ {forced.ljust(width)} = {_value(rng)} -> {_value(rng)} # forces replacement"
        )
        lines.append(f'      ~ {"id".ljust(width)} = "{_hex(rng, 12)}" -> (known after apply)')
        lines += [render["~"](a) for a in fields[1:]]
    lines.append("    }")
    return lines


def _value(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return str(rng.choice((1, 2, 3, 8, 16, 30, 128, 512, 3600)))
    if kind == 1:
        return rng.choice(("true", "false"))
    if kind == 2:
        return f'"{rng.choice(_NAMES)}-{_hex(rng, 6)}"'
    if kind == 3:
        return f'"arn:aws:iam::{rng.randrange(10**11, 10**12)}:role/{rng.choice(_NAMES)}"'
    return f'"{rng.choice(("t3.micro", "t3.large", "m5.xlarge", "14.1", "13.4", "eu-west-1a"))}"'


def _hex(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))
