"""Camera alert semantics: raise after, dedup, clear after, cooldown; and the pipeline's use."""

from datetime import UTC, datetime, timedelta

import numpy as np

from devices.camera import CameraConfig
from devices.kinds import AlertKind, AlertState
from edge.camera.analytics import Box, Cue, Frame, FrameFindings
from edge.camera.pipeline import CameraPipeline, watched_rules
from edge.camera.rules import Phase, RuleParams, RuleState, Transition, params_for, step

T0 = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
PARAMS = RuleParams(raise_after_s=2.0, clear_after_s=5.0, cooldown_s=60.0)


def at(seconds: float) -> datetime:
    """Return T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def feed(
    state: RuleState, seen: list[bool], *, every_s: float = 0.2, start_s: float = 0.0
) -> tuple[RuleState, list[tuple[float, Transition]]]:
    """Step through a series of frames; return the final state and what was emitted."""
    emitted: list[tuple[float, Transition]] = []
    for i, cue in enumerate(seen):
        now = start_s + i * every_s
        state, transition = step(state, cue, 0.8, at(now), PARAMS)
        if transition is not None:
            emitted.append((round(now, 1), transition))
    return state, emitted


def test_a_cue_raises_once_after_lasting_and_not_again_while_it_lasts() -> None:
    state, emitted = feed(RuleState(), [True] * 3000)  # 10 minutes of a parked car
    assert emitted == [(2.0, Transition.RAISE)]
    assert state.phase is Phase.RAISED
    assert state.peak == 0.8


def test_a_blip_shorter_than_raise_after_raises_nothing() -> None:
    state, emitted = feed(RuleState(), [True] * 5 + [False] * 40)
    assert emitted == []
    assert state.phase is Phase.IDLE


def test_a_short_gap_does_not_clear_and_a_long_one_does() -> None:
    _, emitted = feed(RuleState(), [True] * 20 + [False] * 20 + [True] * 20 + [False] * 30)
    assert emitted == [(2.0, Transition.RAISE), (16.8, Transition.CLEAR)]  # last seen at 11.8 s


def test_cooldown_holds_a_recurring_cue_back_until_it_is_over() -> None:
    state, first = feed(RuleState(), [True] * 20 + [False] * 30)
    assert [t for _, t in first] == [Transition.RAISE, Transition.CLEAR]
    cleared_at = state.cleared_at
    assert cleared_at is not None
    # The same car comes back 10 s later and stays: raised once the minute is over.
    state, again = feed(state, [True] * 400, start_s=20.0)
    assert again == [(round((cleared_at - T0).total_seconds() + 60.0, 1), Transition.RAISE)]


def test_life_safety_cues_have_no_cooldown_and_tamper_waits_a_little() -> None:
    camera = CameraConfig(device="cam", source="x.avi", cooldown_s=300)
    assert params_for(AlertKind.CAMERA_FIRE, camera).cooldown_s == 0
    assert params_for(AlertKind.CAMERA_TAMPER, camera).raise_after_s > 0
    assert params_for(AlertKind.CAMERA_LOITERING, camera).raise_after_s == camera.loiter_s
    assert params_for(AlertKind.CAMERA_OBSTRUCTION, camera).raise_after_s == camera.obstruction_s


class ScriptedAnalyzer:
    """Returns the cues it is given, frame by frame (a fake passed to the pipeline)."""

    def __init__(self, script: list[tuple[Cue, ...]]) -> None:
        self.script = list(script)

    def analyze(self, frame: Frame, ts: datetime) -> FrameFindings:
        """Return the next scripted findings."""
        return FrameFindings(self.script.pop(0) if self.script else ())


FRAME: Frame = np.zeros((48, 64, 3), np.uint8)
NIGHT_ROOF = {
    "name": "roof",
    "polygon": [[0, 0], [1, 0], [1, 0.5], [0, 0.5]],
    "rules": ["motion", "person"],
    "schedule": {"start": "22:00", "end": "06:00", "timezone": "Asia/Shanghai"},
}


def pipeline_for(camera: CameraConfig, script: list[tuple[Cue, ...]]) -> CameraPipeline:
    """Return a pipeline whose analytics are scripted."""
    return CameraPipeline(camera, ScriptedAnalyzer(script))


def test_watched_rules_follow_the_configuration() -> None:
    camera = CameraConfig.model_validate(
        {"device": "cam", "source": "x.avi", "smoke": False, "zones": [NIGHT_ROOF]}
    )
    assert watched_rules(camera) == [
        (AlertKind.CAMERA_TAMPER, None),
        (AlertKind.CAMERA_FIRE, None),
        (AlertKind.CAMERA_MOTION, "roof"),
        (AlertKind.CAMERA_PERSON, "roof"),
    ]


def test_a_person_standing_still_for_five_minutes_is_one_alert_with_a_full_reason() -> None:
    camera = CameraConfig.model_validate(
        {"device": "cam", "source": "x.avi", "zones": [NIGHT_ROOF]}
    )
    cue = Cue(AlertKind.CAMERA_PERSON, "roof", 0.83, "person_in_zone", Box(1, 2, 3, 4))
    frames = 5 * 60 * 5
    pipeline = pipeline_for(camera, [(cue,)] * frames)
    night = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    alerts = [
        a
        for i in range(frames + 100)
        for a in pipeline.process(FRAME, night + timedelta(seconds=i * 0.2))
    ]
    assert [(a.decision.kind, a.decision.state) for a in alerts] == [
        (AlertKind.CAMERA_PERSON, AlertState.RAISED),
        (AlertKind.CAMERA_PERSON, AlertState.CLEARED),
    ]
    raised = alerts[0]
    values = raised.decision.reason.values
    assert raised.decision.reason.rule == "person_in_zone"
    assert values["zone"] == "roof"
    assert values["confidence"] == 0.83
    assert values["frame_time"] == night.isoformat()
    assert raised.decision.reason.profile == "camera"
    assert raised.box == Box(1, 2, 3, 4)
    assert raised.frame is FRAME
    assert alerts[1].frame is None


def test_a_zone_outside_its_schedule_raises_nothing() -> None:
    camera = CameraConfig.model_validate(
        {"device": "cam", "source": "x.avi", "zones": [NIGHT_ROOF]}
    )
    cue = Cue(AlertKind.CAMERA_MOTION, "roof", 0.5, "zone_motion")
    pipeline = pipeline_for(camera, [(cue,)] * 50)
    afternoon = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
    assert not [
        a for i in range(50) for a in pipeline.process(FRAME, afternoon + timedelta(seconds=i))
    ]


def test_no_frames_for_long_enough_is_tamper_and_frames_again_clear_it() -> None:
    camera = CameraConfig(device="cam", source="rtsp://cam/1", no_frames_s=30, clear_after_s=5)
    pipeline = pipeline_for(camera, [()] * 100)
    last = T0
    assert pipeline.no_frames(at(20), last) == []
    assert pipeline.no_frames(at(31), last) == []  # pending: tamper waits 3 s
    raised = pipeline.no_frames(at(35), last)
    assert [(a.decision.kind, a.decision.reason.rule) for a in raised] == [
        (AlertKind.CAMERA_TAMPER, "no_frames")
    ]
    assert raised[0].decision.reason.values["silent_s"] == 35
    assert pipeline.no_frames(at(60), last) == []  # still the same alert
    cleared = [a for i in range(40) for a in pipeline.process(FRAME, at(61 + i * 0.2))]
    assert [(a.decision.kind, a.decision.state) for a in cleared] == [
        (AlertKind.CAMERA_TAMPER, AlertState.CLEARED)
    ]
