"""Real-shaped `terraform plan -no-color` outputs (Terraform 1.x wording) and a generator."""

from __future__ import annotations

MIXED = """\
aws_vpc.main: Refreshing state... [id=vpc-0a1b2c3d]
aws_instance.db: Refreshing state... [id=i-0123456789abcdef0]

Terraform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  + create
  ~ update in-place
  - destroy
-/+ destroy and then create replacement
+/- create replacement and then destroy
 <= read (data resources)

Terraform will perform the following actions:

  # data.aws_ami.ubuntu will be read during apply
  # (config refers to values not yet known)
 <= data "aws_ami" "ubuntu" {
      + id = (known after apply)
    }

  # aws_instance.db must be replaced
-/+ resource "aws_instance" "db" {
      ~ ami           = "ami-old" -> "ami-new" # forces replacement
        instance_type = "t3.large"
    }

  # aws_lb.front must be replaced
+/- resource "aws_lb" "front" {
      ~ name = "front-a" -> "front-b" # forces replacement
    }

  # aws_security_group.old will be destroyed
  # (because aws_security_group.old is not in configuration)
  - resource "aws_security_group" "old" {
      - name = "old" -> null
    }

  # module.vpc.aws_subnet.private["eu-west-1a"] will be created
  + resource "aws_subnet" "private" {
      + cidr_block = "10.0.1.0/24"
    }

  # aws_s3_bucket.assets will be updated in-place
  ~ resource "aws_s3_bucket" "assets" {
      ~ tags = {
          ~ "team" = "web" -> "checkout"
        }
    }

  # aws_iam_role.ci has moved to aws_iam_role.deploy
    resource "aws_iam_role" "deploy" {
        name = "ci"
    }

  # aws_instance.web is tainted, so must be replaced
-/+ resource "aws_instance" "web" {
    }

Plan: 4 to add, 1 to change, 4 to destroy.

Changes to Outputs:
  ~ lb_dns = "front-a.elb.amazonaws.com" -> (known after apply)
"""

NO_CHANGES = """\
aws_vpc.main: Refreshing state... [id=vpc-0a1b2c3d]

No changes. Your infrastructure matches the configuration.

Terraform has compared your real infrastructure against your configuration
and found no differences, so no changes are needed.
"""

NO_CHANGES_OLD = """\
Refreshing Terraform state in-memory prior to plan...

No changes. Infrastructure is up-to-date.
"""

ERROR = """\
╷
│ Error: Reference to undeclared resource
│
│   on main.tf line 12, in resource "aws_instance" "web":
│   12:   subnet_id = aws_subnet.missing.id
│
│ A managed resource "aws_subnet" "missing" has not been declared in the root module.
╵
╷
│ Error: Invalid value for variable
│
│ The given value is not suitable for var.size.
╵
"""

ERROR_OLD = """\
Error: Error locking state: Error acquiring the state lock: ConditionalCheckFailedException

Terraform acquires a state lock to protect the state from being written
by multiple users at the same time.
"""

IMPORT = """\
Terraform will perform the following actions:

  # aws_s3_bucket.legacy will be imported
    resource "aws_s3_bucket" "legacy" {
        bucket = "acme-legacy"
    }

  # aws_s3_bucket.logs will be created
  + resource "aws_s3_bucket" "logs" {
      + bucket = "acme-logs"
    }

Plan: 1 to import, 1 to add, 0 to change, 0 to destroy.
"""

OUTPUTS_ONLY = """\
Changes to Outputs:
  + region = "eu-west-1"

You can apply this plan to save these new output values to the Terraform
state, without changing any real infrastructure.
"""

FREE_TEXT = """\
helm diff upgrade api ./chart
default, api, Deployment (apps) has changed:
-   replicas: 2
+   replicas: 3
"""


def colour(text: str) -> str:
    """What the same plan looks like without -no-color."""
    return (
        text.replace("  # ", "  \x1b[1m# ")
        .replace(" will be created", "\x1b[0m will be \x1b[1m\x1b[32mcreated\x1b[0m")
        .replace("Plan:", "\x1b[0m\x1b[1mPlan:\x1b[0m")
        .replace("  + ", "  \x1b[32m+\x1b[0m ")
    )


def huge_plan(size_bytes: int = 5_000_000) -> tuple[str, int]:
    """A plan of about `size_bytes` creating N resources; returns (text, N)."""
    resource = (
        '  # module.fleet.aws_instance.node["{n}"] will be created\n'
        '  + resource "aws_instance" "node" {{\n'
        '      + ami                          = "ami-0c55b159cbfafe1f0"\n'
        "      + arn                          = (known after apply)\n"
        "      + associate_public_ip_address  = (known after apply)\n"
        "      + availability_zone            = (known after apply)\n"
        '      + instance_type                = "t3.small"\n'
        "      + tags                         = {{\n"
        '          + "Name" = "node-{n}"\n'
        "        }}\n"
        "    }}\n\n"
    )
    head = "Terraform will perform the following actions:\n\n"
    parts = [head]
    size = len(head)
    count = 0
    while size < size_bytes:
        chunk = resource.format(n=count)
        parts.append(chunk)
        size += len(chunk)
        count += 1
    parts.append(f"Plan: {count} to add, 0 to change, 0 to destroy.\n")
    return "".join(parts), count
