"""Load the campaign, its courses, missions, videos, districts and bonus merchants from seed files.

``seeds/campaign.yaml`` holds the campaign as readable data; ``seeds/merchants.csv`` the
bonus merchants (別紙1). Loading creates what is missing, keyed on codes, and leaves existing
rows alone: staff edit merchants and missions in the admin, and a re-run of ``make run`` must
never revert their work. Bringing existing rows back to the seed's values is an explicit
``update=True`` (``load_campaign --update``), which lists every field it changes (old → new) and
records each change in the row's history with the user who asked for it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext

from campaign.audit import staff_action_record
from campaign.env import parse_datetime_jst
from campaign.models import Campaign
from merchants.models import District, Merchant
from missions.kinds import KINDS
from missions.models import Course, Mission, Video

DEFAULT_SEED_DIR = Path(settings.BASE_DIR) / "seeds"


class SeedError(Exception):
    """A seed file that cannot be loaded; the message names the file and the problem."""


CHANGE_REASON = "load_campaign --update"


@dataclass(frozen=True)
class FieldChange:
    """One field of an existing row whose database value differs from the seed's."""

    row: str  # "merchant KOBE-02"
    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.row} {self.field}: {self.old!r} → {self.new!r}"


@dataclass
class LoadReport:
    update: bool = False
    user: Any = None
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)  # differ from the seed, left as staff edited them
    changes: list[FieldChange] = field(default_factory=list)

    def count(self, bucket: str, model: type[models.Model]) -> None:
        counts = getattr(self, bucket)
        name = model._meta.model_name
        counts[name] = counts.get(name, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def __str__(self) -> str:
        def fmt(counts: dict[str, int]) -> str:
            return ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "none"

        text = f"created: {fmt(self.created)}; updated: {fmt(self.updated)}; unchanged: {fmt(self.unchanged)}"
        if self.kept:
            text += f"; kept as edited: {fmt(self.kept)} (load_campaign --update applies the seed)"
        return text


def _as_time(value: Any) -> time | None:
    if value in (None, ""):
        return None
    if isinstance(value, int):  # YAML 1.1 reads 05:00 as a sexagesimal number of minutes
        return time(value // 60, value % 60)
    return time.fromisoformat(str(value))


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else parse_datetime_jst(value.isoformat())
    return parse_datetime_jst(str(value))


def _as_bool(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on", "y"}


def _display(value: Any) -> Any:
    return getattr(value, "code", value)  # a foreign key by its code, not "District object (1)"


def _upsert(report: LoadReport, model: type[models.Model], lookup: dict[str, Any], values: dict[str, Any]):
    """Create a missing row; an existing one changes only when ``report.update`` asks for it."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model(**lookup, **values)
        obj.full_clean(validate_unique=False, validate_constraints=False)
        obj.save()
        report.count("created", model)
        return obj
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if not changed:
        report.count("unchanged", model)
        return obj
    row = f"{model._meta.model_name} {lookup.get('code', obj.pk)}"
    report.changes.extend(
        FieldChange(row, name, _display(getattr(obj, name)), _display(values[name])) for name in changed
    )
    if not report.update:
        report.count("kept", model)
        return obj
    for name in changed:
        setattr(obj, name, values[name])
    obj.full_clean(validate_unique=False, validate_constraints=False)
    fields = ", ".join(str(obj._meta.get_field(name).verbose_name) for name in changed)
    _save_with_history(
        report,
        obj,
        message=gettext("Changed by %(command)s: %(fields)s") % {"command": CHANGE_REASON, "fields": fields},
    )
    report.count("updated", model)
    return obj


def _save_with_history(report: LoadReport, obj: models.Model, *, message: str) -> None:
    """Save ``obj`` so that its history names the user; models without simple-history get an admin log entry."""
    obj._history_user = report.user
    obj._change_reason = CHANGE_REASON
    obj.save()
    if not hasattr(type(obj), "history"):
        staff_action_record(user=report.user, obj=obj, message=message)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeedError(f"{path}: no such file") from None
    except yaml.YAMLError as exc:
        raise SeedError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or "campaign" not in data:
        raise SeedError(f"{path}: expected a mapping with a 'campaign' section")
    return data


@transaction.atomic
def campaign_load(
    *, path: Path | str | None = None, update: bool = False, user: Any = None, dry_run: bool = False
) -> tuple[Campaign, LoadReport]:
    """Load the campaign from ``path`` (a folder with campaign.yaml and merchants.csv).

    Missing rows are created; existing rows keep their values unless ``update`` (then every
    changed field is in ``report.changes`` and the row's history names ``user``). ``dry_run``
    reports the same and rolls everything back.
    """
    folder = Path(path) if path else DEFAULT_SEED_DIR
    if folder.is_file():
        folder = folder.parent
    data = _read_yaml(folder / "campaign.yaml")
    report = LoadReport(update=update, user=user)
    try:
        campaign = _load_campaign(report, data["campaign"])
        _load_courses_and_missions(report, campaign, data.get("courses", []), data.get("missions", []))
        _load_videos(report, campaign, data.get("videos", []))
        _load_districts(report, data.get("districts", []))
        merchants_file = folder / "merchants.csv"
        if merchants_file.exists():
            _load_merchants(report, merchants_file)
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise SeedError(f"{folder}: {type(exc).__name__}: {exc}") from None
    if dry_run:
        transaction.set_rollback(True)
    return campaign, report


def _load_campaign(report: LoadReport, raw: dict[str, Any]) -> Campaign:
    values = {
        key: raw.get(key, "")
        for key in ("name_ja", "name_en", "tagline_ja", "tagline_en", "description_ja", "description_en")
    }
    for key in ("starts_at", "ends_at", "entry_starts_at", "entry_ends_at", "data_cutoff_at"):
        values[key] = _as_datetime(raw[key])
    values["lottery_winners"] = int(raw.get("lottery_winners", 77))
    values["lottery_prize_points"] = int(raw.get("lottery_prize_points", 5000))
    values["lottery_point_type"] = raw.get("lottery_point_type", "basic")
    values["points_budget"] = int(raw["points_budget"]) if raw.get("points_budget") else None
    values["notes"] = list(raw.get("notes", []))
    values["is_active"] = bool(raw.get("is_active", True))
    return _upsert(report, Campaign, {"code": raw["code"]}, values)


def _load_courses_and_missions(
    report: LoadReport, campaign: Campaign, courses: list[dict], missions: list[dict]
) -> None:
    by_code: dict[str, Course] = {}
    for raw in courses:
        values = {key: raw.get(key, "") for key in ("name_ja", "name_en", "description_ja", "description_en")}
        values["order"] = int(raw.get("order", 0))
        by_code[raw["code"]] = _upsert(report, Course, {"campaign": campaign, "code": raw["code"]}, values)

    loaded: dict[str, Mission] = {}
    created: set[str] = set()
    for raw in missions:
        if raw["course"] not in by_code:
            raise ValueError(f"mission {raw['code']}: unknown course {raw['course']!r}")
        if raw["kind"] not in KINDS:
            raise ValueError(f"mission {raw['code']}: unknown kind {raw['kind']!r} (kinds: {', '.join(KINDS)})")
        values = {
            "course": by_code[raw["course"]],
            "order": int(raw.get("order", 0)),
            "kind": raw["kind"],
            "min_amount": int(raw.get("min_amount", 0)),
            "target_count": int(raw.get("target_count", 1)),
            "window_start": _as_time(raw.get("window_start")),
            "window_end": _as_time(raw.get("window_end")),
            "weekdays": [int(d) for d in raw.get("weekdays", [])],
            "bonus_merchants_only": bool(raw.get("bonus_merchants_only", False)),
            "reward_points": int(raw["reward_points"]),
            "unit_points": int(raw["unit_points"]) if raw.get("unit_points") else None,
            "point_type": raw.get("point_type", "limited"),
            "counts_for_lottery": bool(raw.get("counts_for_lottery", False)),
            "is_active": bool(raw.get("is_active", True)),
        }
        for key in ("label_ja", "label_en", "title_ja", "title_en", "description_ja", "description_en"):
            values[key] = raw.get(key, "")
        before = report.created.get("mission", 0)
        loaded[raw["code"]] = _upsert(report, Mission, {"campaign": campaign, "code": raw["code"]}, values)
        if report.created.get("mission", 0) > before:
            created.add(raw["code"])

    for raw in missions:
        _load_requirements(report, loaded, raw, is_new=raw["code"] in created)


def _load_requirements(report: LoadReport, loaded: dict[str, Mission], raw: dict, *, is_new: bool) -> None:
    wanted = set(raw.get("requires", []))
    mission = loaded[raw["code"]]
    unknown = wanted - loaded.keys()
    if unknown:
        raise ValueError(f"mission {raw['code']}: requires unknown missions {sorted(unknown)}")
    current = set(mission.requires.values_list("code", flat=True))
    if current == wanted:
        return
    if is_new:  # a new mission's requirements are part of its creation
        mission.requires.set([loaded[code] for code in wanted])
        return
    row = f"mission {mission.code}"
    counted = any(change.row == row for change in report.changes)  # its fields differ too: one row, counted once
    report.changes.append(FieldChange(row, "requires", sorted(current), sorted(wanted)))
    if not report.update:
        if not counted:
            report.count("kept", Mission)
        return
    mission._history_user = report.user
    mission._change_reason = CHANGE_REASON
    mission.requires.set([loaded[code] for code in wanted])
    if not counted:
        report.count("updated", Mission)


def _load_videos(report: LoadReport, campaign: Campaign, videos: list[dict]) -> None:
    for raw in videos:
        values = {key: raw.get(key, "") for key in ("title_ja", "title_en", "description_ja", "description_en")}
        values.update(
            order=int(raw.get("order", 0)),
            static_path=raw["static_path"],
            poster_path=raw.get("poster_path", ""),
            duration_seconds=int(raw["duration_seconds"]),
        )
        _upsert(report, Video, {"campaign": campaign, "code": raw["code"]}, values)


def _load_districts(report: LoadReport, districts: list[dict]) -> None:
    for raw in districts:
        values = {key: raw.get(key, "") for key in ("name_ja", "name_en", "area_ja", "area_en")}
        values["order"] = int(raw.get("order", 0))
        _upsert(report, District, {"code": raw["code"]}, values)


def _load_merchants(report: LoadReport, path: Path) -> None:
    districts = {d.code: d for d in District.objects.all()}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            district_code = (row.get("district") or "").strip()
            if district_code and district_code not in districts:
                raise ValueError(f"{path.name} line {line}: unknown district {district_code!r}")
            values = {
                "name": row["name"].strip(),
                "name_kana": (row.get("name_kana") or "").strip(),
                "address": (row.get("address") or "").strip(),
                "district": districts.get(district_code),
                "order": int(row.get("order") or 0),
                "blue_tag": _as_bool(row.get("blue_tag", "1")),
                "on_bonus_list": _as_bool(row.get("on_bonus_list", "1")),
                "is_active": _as_bool(row.get("is_active", "1")),
            }
            _upsert(report, Merchant, {"code": row["code"].strip()}, values)
