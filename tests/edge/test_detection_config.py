"""Detection settings in the site file: merged edge default → site → device, refused when bad."""

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from devices.kinds import DeviceKind
from devices.payloads import ButtonEvent
from devices.registry import Device
from devices.site import SiteFile
from edge.agent import EdgeAgent
from edge.detectors.co import EN_50291, UL_2034
from edge.detectors.liveness import checkin_deadline_s
from edge.detectors.profile import (
    DEFAULT_PROFILE,
    DetectionConfigError,
    DetectionProfile,
    ProfileBook,
)
from edge.settings import EdgeSettings

HEADER = """
[site]
name = "Test"
edge_id = "edge-test"

[[devices]]
id = "b3-sos"
kind = "sos_button"
location = "Building 3/Unit 1201"

[[devices]]
id = "b3-heat"
kind = "heat"
location = "Building 3/Unit 1201/Kitchen"

[[devices]]
id = "boiler-gas"
kind = "gas"
location = "Boiler Room"
"""


def load(tmp_path: Path, detection: str) -> SiteFile:
    path = tmp_path / "site.toml"
    path.write_text(HEADER + textwrap.dedent(detection))
    return SiteFile.load(path)


def book(site: SiteFile, base: DetectionProfile = DEFAULT_PROFILE) -> ProfileBook:
    return ProfileBook.build(site.detection, base, site.devices)


def dev(site: SiteFile, device_id: str) -> Device:
    return next(d for d in site.devices if d.id == device_id)


def test_a_site_without_a_detection_table_gets_the_edge_default(tmp_path: Path) -> None:
    site = load(tmp_path, "")
    en = DetectionProfile.for_co_standard("en50291")
    profiles = book(site, en)
    assert all(profiles.for_device(d) == en for d in site.devices)


def test_site_values_override_the_default_and_device_values_the_site(tmp_path: Path) -> None:
    site = load(
        tmp_path,
        """
        [detection]
        co_profile = "en50291"
        heat_fixed_c = 60
        gas_warning_lel_pct = 12
        gas_clear_hold_s = 60
        leak_dry_hold_s = 600

        [detection.checkin_s]
        sos_button = 3600

        [detection.sos]
        cancel_on = ["press"]
        cancel_window_s = 8

        [detection.devices.b3-sos]
        checkin_s = 900
        sos = { cancel_window_s = 5 }

        [detection.devices.b3-heat]
        heat_fixed_c = 54
        co_profile = "ul2034"
        """,
    )
    profiles = book(site)

    gas = profiles.for_device(dev(site, "boiler-gas"))
    assert gas.co.standard is EN_50291
    assert (gas.heat.fixed_c, gas.gas_warning_lel_pct, gas.gas_alarm_lel_pct) == (60, 12, 20)
    assert gas.leak_dry_clear_s == 600
    assert gas.gas_clear_hold_s == 60

    heat = profiles.for_device(dev(site, "b3-heat"))
    assert (heat.heat.fixed_c, heat.co.standard, heat.leak_dry_clear_s) == (54, UL_2034, 600)

    sos_device = dev(site, "b3-sos")
    sos = profiles.for_device(sos_device)
    # The nested table merges key by key: the device's window, the site's cancel gesture.
    assert sos.sos.cancel_on == frozenset({str(ButtonEvent.PRESS)})
    assert sos.sos.cancel_window_s == 5
    assert checkin_deadline_s(sos_device, sos.checkin_s) == 900
    other_sos = Device(id="b9-sos", kind=DeviceKind.SOS_BUTTON, location="Building 9")
    assert checkin_deadline_s(other_sos, profiles.for_device(other_sos).checkin_s) == 3600
    # Only the named kind changed; the others keep the default deadlines.
    assert (
        profiles.site.checkin_s[DeviceKind.WATER_LEAK]
        == DEFAULT_PROFILE.checkin_s[DeviceKind.WATER_LEAK]
    )


@pytest.mark.parametrize(
    ("detection", "key"),
    [
        ("[detection]\nheat_fixed_c = 53.9", "heat_fixed_c"),
        ("[detection]\nheat_fixed_c = 65.1", "heat_fixed_c"),
        ("[detection]\nheat_rate_of_rise_c_per_min = 30", "heat_rate_of_rise_c_per_min"),
        ('[detection]\nco_profile = "bs7860"', "co_profile"),
        ("[detection]\ngas_alarm_lel_pct = 0", "gas_alarm_lel_pct"),
        ("[detection]\nsmoke_density_alarm_db_per_m = 0.04", "smoke_density_alarm_db_per_m"),
        ("[detection]\nheat_fixd_c = 57", "heat_fixd_c"),
        ("[detection.checkin_s]\nsmoke = 0", "checkin_s.smoke"),
        ("[detection.checkin_s]\nkettle = 60", "checkin_s.kettle"),
        ("[detection.sos]\nraise_on = []", "sos"),
        ('[detection.sos]\nraise_on = ["wave"]', "sos.raise_on"),
        ("[detection.sos]\ncancel_window_s = 61", "sos.cancel_window_s"),
        ("[detection.sos]\nperiodic_repeats = 2", "sos.periodic_repeats"),
        ("[detection.battery_trend]\nhorizon_days = 0", "battery_trend.horizon_days"),
        ("[detection.stuck]\nafter_s = 60", "stuck.after_s"),
        ("[detection.devices.b3-heat]\nheat_fixed_c = 70", "devices.b3-heat.heat_fixed_c"),
        ("[detection.devices.b3-heat]\ncheckin_s = -1", "devices.b3-heat.checkin_s"),
        ("[detection.devices.b3-heat]\nsos = { colour = 1 }", "devices.b3-heat.sos.colour"),
        ("[detection.devices.'bad id!']\ncheckin_s = 60", "devices.bad id!"),
    ],
)
def test_a_bad_key_or_value_is_refused_at_load_naming_the_key(
    tmp_path: Path, detection: str, key: str
) -> None:
    with pytest.raises(ValidationError) as error:
        load(tmp_path, detection)
    assert f"detection.{key}" in str(error.value)


@pytest.mark.parametrize(
    ("detection", "message"),
    [
        ("[detection]\ngas_clear_lel_pct = 12", "detection: gas levels must rise"),
        (
            "[detection]\ngas_warning_lel_pct = 15\n[detection.devices.boiler-gas]\n"
            "gas_alarm_lel_pct = 14",
            "detection.devices.boiler-gas: gas levels must rise",
        ),
        ("[detection]\nbattery_low_pct = 30", r"detection: battery_low_pct \(30\)"),
        (
            "[detection.devices.unknown-device]\nbattery_ok_pct = 10",
            "detection.devices.unknown-device: battery_low_pct",
        ),
        (
            "[detection.battery_trend]\nmin_span_days = 10\nwindow_days = 5",
            "min_span_days must not exceed window_days",
        ),
    ],
)
def test_keys_that_contradict_each_other_are_refused_when_the_profiles_are_built(
    tmp_path: Path, detection: str, message: str
) -> None:
    site = load(tmp_path, detection)
    with pytest.raises(DetectionConfigError, match=message):
        book(site)


def test_the_sample_site_and_its_detection_table_load() -> None:
    from simulators.sites import sample_site_path

    site = SiteFile.load(sample_site_path())
    profiles = book(site)
    assert all(profiles.for_device(d) is not None for d in site.devices)


def test_an_edge_with_a_contradictory_table_refuses_to_start_naming_the_device(
    tmp_path: Path,
) -> None:
    load(tmp_path, "[detection.devices.boiler-gas]\ngas_clear_lel_pct = 15")
    settings = EdgeSettings(site_file=tmp_path / "site.toml", data_dir=tmp_path / "edge")
    with pytest.raises(DetectionConfigError, match=r"detection\.devices\.boiler-gas: gas levels"):
        EdgeAgent(settings)
    assert not (tmp_path / "edge").exists()  # refused before the outbox was created


def test_an_edge_gives_each_device_its_own_profile(tmp_path: Path) -> None:
    load(tmp_path, "[detection]\nheat_fixed_c = 62\n[detection.devices.b3-heat]\nheat_fixed_c = 55")
    settings = EdgeSettings(
        site_file=tmp_path / "site.toml", data_dir=tmp_path / "edge", co_profile="en50291"
    )
    agent = EdgeAgent(settings)
    try:
        site = SiteFile.load(tmp_path / "site.toml")
        heat = agent.profiles.for_device(dev(site, "b3-heat"))
        gas = agent.profiles.for_device(dev(site, "boiler-gas"))
        assert (heat.heat.fixed_c, gas.heat.fixed_c) == (55, 62)
        assert heat.co.standard is gas.co.standard is EN_50291  # --co-profile, not overridden
    finally:
        agent.outbox.close()
