"""Statistics under review, up the chain: two districts may each have a street of one name
(新华街道), and the city's figures by street must not add them up."""

from dataclasses import replace

from hub.statistics.rules import CaseFacts, GroupBy, grouped
from tests.hub.factories import T0


def _case(case_id: int, site_id: str, street: str | None, district: str | None) -> CaseFacts:
    return CaseFacts(
        id=case_id,
        category="life_safety",
        status="open",
        opened_at=T0,
        acknowledged_at=None,
        resolved_at=None,
        resolution=None,
        escalations=0,
        escalation_level=0,
        site_id=site_id,
        street=street,
        district=district,
    )


def test_a_streets_name_in_two_districts_is_two_streets() -> None:
    east = _case(1, "lanyuan", "新华街道", "东城区")
    west = [_case(2, "zhuyuan", "新华街道", "西城区"), _case(3, "meiyuan", "新华街道", "西城区")]
    nowhere = [_case(4, "songyuan", None, "东城区"), _case(5, "juyuan", None, None)]

    groups = grouped([*west, east, *nowhere], GroupBy.STREET)

    assert [(g.key, g.district, g.figures.opened) for g in groups] == [
        ("新华街道", "东城区", 1),
        ("新华街道", "西城区", 2),
        (None, None, 2),  # no street: one group, as before
    ]


def test_a_street_of_no_district_comes_after_those_of_one() -> None:
    named = _case(1, "lanyuan", "Dongsi", "Dongcheng")
    groups = grouped([replace(named, id=2, district=None), named], GroupBy.STREET)
    assert [(g.key, g.district) for g in groups] == [("Dongsi", "Dongcheng"), ("Dongsi", None)]


def test_other_groupings_name_no_district() -> None:
    cases = [_case(1, "lanyuan", "Dongsi", "Dongcheng"), _case(2, "zhuyuan", "Dongsi", "Xicheng")]
    for by in (GroupBy.SITE, GroupBy.DISTRICT, GroupBy.CATEGORY, GroupBy.GRID):
        assert all(g.district is None for g in grouped(cases, by))
    assert [g.figures.opened for g in grouped(cases, GroupBy.CATEGORY)] == [2]
