"""The Python published in docs/lottery-verification.md recomputes a real draw."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from django.conf import settings

from lottery import services, verification
from tests.lottery.factories import eligible_members

DOC = Path(settings.BASE_DIR) / "docs" / "lottery-verification.md"


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_published_snippets_recompute_the_draw(after_cutoff, alice, bob, tmp_path, monkeypatch):
    ids = eligible_members(after_cutoff, 90)
    draw = services.draw_perform(draw=services.draw_commit(campaign=after_cutoff, user=alice), user=alice)
    record = services.lottery_public(campaign=after_cutoff)
    winners = list(services.current_winners(draw=draw).values_list("member_id", flat=True))
    own, whole = snippets()
    eligible = verification.eligible_list_export(draw=draw)
    monkeypatch.setattr("urllib.request.urlopen", lambda url: io.BytesIO(eligible))
    # The last: an id off the list whose digest is under the cut-off would be told it won.
    outsider = next(
        f"X{n}"
        for n in range(100_000)
        if verification.member_digest(seed=bytes.fromhex(record["seed"]), member_id=f"X{n}") <= record["cutoff_digest"]
    )

    for member_id in (winners[0], winners[-1], next(m for m in ids if m not in winners), outsider):
        code = (
            own.replace('seed_hex = "…"', f'seed_hex = "{record["seed"]}"')
            .replace('seed_hash = "…"', f'seed_hash = "{record["seed_hash"]}"')
            .replace('eligible_hash = "…"', f'eligible_hash = "{record["eligible_hash"]}"')
            .replace('cutoff_digest = "…"', f'cutoff_digest = "{record["cutoff_digest"]}"')
            .replace('member_id = "M0000123"', f'member_id = "{member_id}"')
        )
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, {})  # noqa: S102 - the published snippet, run as a member would
        expected = "won" if member_id in winners else "not"
        assert out.getvalue().split()[1:2] == [expected], out.getvalue()

    monkeypatch.chdir(tmp_path)
    (tmp_path / "eligible.txt").write_bytes(eligible)
    scope = {
        "eligible_hash": record["eligible_hash"],
        "seed_hex": record["seed"],
        "cutoff_digest": record["cutoff_digest"],
    }
    exec(whole, scope)  # noqa: S102
    assert scope["winners"] == winners
