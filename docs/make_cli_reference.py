"""Write docs/cli.md from the commands' --help, so the reference cannot drift from the code.

    python docs/make_cli_reference.py        # rewrite docs/cli.md
"""
from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from acquire.cli import cli  # noqa: E402

HEADER = """# acquire command reference

Generated from `--help` by `python docs/make_cli_reference.py`; a test fails when it is stale.
Exit codes (all commands): 0 done; 3 done, some sectors unreadable; 4 interrupted and resumable;
1 error (nothing lost); 2 usage error. `verify` exits 0 when every check passes, 1 otherwise.
Only `image`, `analyze`, `verify` and `export` write to a record (`verify` and `export` append a
chained event unless `--no-record`); `report` and `map` open it read-only (docs/record.md "Who writes the
record"). `image` ends a complete or partial run with `IMAGE.seal.json`, signed with `--sign-key`,
which `verify` checks (docs/seal.md). The contracts behind these commands: docs/reference/contracts.md.
"""


def reference() -> str:
    runner = CliRunner()
    parts = [HEADER]
    for name in sorted(cli.commands):
        result = runner.invoke(cli, [name, "--help"], prog_name="acquire", terminal_width=100)
        parts.append(f"\n## acquire {name}\n\n```\n{result.output.rstrip()}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    (Path(__file__).parent / "cli.md").write_text(reference())
