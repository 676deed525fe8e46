"""What changed since the last audit: each record's checks against the baseline's, in words."""
from __future__ import annotations

# a chain that grows, a seal that is renewed: what every audit itself does, so never news
QUIET_CHECKS = ("provenance",)


def changes(record: str, result: dict, baseline: dict | None) -> list[str]:
    """Lines saying how `result` differs from `baseline` (the same record in the last audit)."""
    if baseline is None:
        return [f"{record}: first audited ({'ok' if result['ok'] else 'FAILED'})"]
    out = []
    for name, check in result["checks"].items():
        before = baseline["checks"].get(name)
        if name in QUIET_CHECKS or (before is not None and before["ok"] == check["ok"]
                                    and (check["ok"] or before["summary"] == check["summary"])):
            continue
        if before is None:
            out.append(f"{record}: {name}: {'ok' if check['ok'] else 'FAILED'}: {check['summary']}")
        elif before["ok"] and not check["ok"]:
            out.append(f"{record}: {name} now FAILS: {check['summary']}" + _first(check))
        elif check["ok"]:
            out.append(f"{record}: {name} passes again: {check['summary']}")
        else:
            out.append(f"{record}: {name} still fails, differently: {check['summary']}" + _first(check))
    return out


def gone(baseline: dict | None, now: set[str]) -> list[str]:
    """Records the last audit checked that this one did not find."""
    if not baseline:
        return []
    return [f"{record}: in the last audit, missing from this one" for record in sorted(set(baseline["results"]) - now)]


def _first(check: dict) -> str:
    return f" ({'; '.join(check['details'][:3])})" if check.get("details") else ""
