"""``syncd status``: what is stored, per account, and what needs attention."""

from __future__ import annotations

import click

from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.identity import my_keys


def gather_status(ctx: Context) -> dict:
    """Counts and per-account state as a JSON-able dict."""
    db = ctx.db
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    accounts = []
    for aid, name, kind, address in db.execute(
        "SELECT id, name, kind, address FROM accounts ORDER BY id"
    ):
        accounts.append(
            {
                "name": name,
                "kind": kind,
                "address": address,
                "observations": db.execute(
                    "SELECT count(*) FROM observations WHERE account_id = ?", [aid]
                ).fetchone()[0],
                "quarantined": db.execute(
                    "SELECT count(*) FROM quarantine WHERE account_id = ?", [aid]
                ).fetchone()[0],
                "last_sync": db.execute(
                    "SELECT max(updated_at) FROM cursors WHERE account_id = ?", [aid]
                ).fetchone()[0],
            }
        )
    bulk = dict(
        db.execute(
            "SELECT CASE WHEN signals IS NOT NULL THEN 'source signal' ELSE 'headers' END, count(*)"
            " FROM messages WHERE bulk IS NOT NULL OR signals IS NOT NULL GROUP BY 1"
        ).fetchall()
    )
    return {
        "home": str(ctx.home.root),
        "accounts": accounts,
        "my_addresses": sorted(my_keys(db)),
        "observations": one("SELECT count(*) FROM observations"),
        "skipped_copies": one("SELECT count(*) FROM observations WHERE skipped IS NOT NULL"),
        "logical_messages": one("SELECT count(*) FROM messages"),
        "bulk_messages": bulk.get("headers", 0),
        "source_signal_messages": bulk.get("source signal", 0),
        "events": one("SELECT count(*) FROM events"),
        "people": one(
            "SELECT count(DISTINCT a.person_id) FROM touchpoints t"
            " JOIN addresses a ON a.address = t.address"
        ),
        "touchpoints": one("SELECT count(*) FROM touchpoints"),
        "quarantined": one("SELECT count(*) FROM quarantine"),
    }


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def status_command(ctx: Context, as_json: bool) -> None:
    """Show accounts, what is stored and what was quarantined."""
    s = gather_status(ctx)
    if as_json:
        echo_json(s)
        return
    click.echo(f"home: {s['home']}")
    if not s["accounts"]:
        click.echo("accounts: none (syncd import ..., or syncd account add ...)")
    for a in s["accounts"]:
        click.echo(
            f"account {a['name']} ({a['kind']}): {a['observations']} observations, "
            f"{a['quarantined']} quarantined, last sync {a['last_sync'] or 'never'}"
        )
    click.echo(f"my addresses: {', '.join(s['my_addresses']) or 'none (use --me)'}")
    click.echo(
        f"{s['logical_messages']} logical messages from {s['observations']} copies "
        f"({s['skipped_copies']} in skipped folders); {s['bulk_messages']} bulk/automated, "
        f"{s['source_signal_messages']} filtered by source signals"
    )
    click.echo(
        f"{s['events']} event instances; {s['touchpoints']} touchpoints with {s['people']} people; "
        f"{s['quarantined']} items quarantined"
    )


COMMANDS = [status_command]
