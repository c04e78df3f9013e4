"""Benchmark: device alerts → committed cases with 1, 2, 3 hub workers on one PostgreSQL,
beside a bare subscriber on the same broker in the same run.

One private Mosquitto (the shipped site configuration). For each worker count: a fresh
PostgreSQL database, the devices registered, then ``linli hub --worker-id n`` processes
(shared subscription ``linli-hubs``). A burst of N alerts is published at QoS 1 on an edge's
alert topic, as edges send them (one incident per building, so cases and attaches both
happen); the figure is N divided by the time from the first publish to the moment every alert
is committed on a case (counted in the database). Baseline: a bare paho subscriber receiving
the same N messages from the same publisher.

Honest about the machine: the workers, PostgreSQL, Mosquitto and the publisher share its cores
(``os.cpu_count()`` is printed); more workers than cores cannot scale.

    python -m bench.hub_workers [--alerts N] [--buildings B] [--workers 1,2,3]
"""

import argparse
import os
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import Alert, AlertReason
from devices.registry import Device
from devices.topics import EdgeChannel, edge_topic
from hub.auth.rules import new_secret
from hub.persistence.engine import create_hub_engine, migrate
from hub.persistence.tables import AlertRow
from hub.store import HubStore
from linli.brokers import MosquittoProcess, free_port, site_tuning
from tests.conftest import POSTGRES_ADMIN_URL
from tests.e2e.stack import LinliProcess, publisher
from tests.polling import wait_until

EDGE = "bench-edge"


def payloads(count: int, buildings: int) -> list[bytes]:
    """Return ``count`` raised smoke alerts spread over one detector per building."""
    now = datetime.now(UTC)
    out = []
    for n in range(count):
        ts = now + timedelta(milliseconds=n)
        alert = Alert(
            id=uuid.uuid4().hex,
            edge_id=EDGE,
            device_id=f"b{n % buildings}-smoke",
            kind=AlertKind.SMOKE,
            state=AlertState.RAISED,
            severity=Severity.HIGH,
            ts=ts,
            detected_at=ts,
            reason=AlertReason(rule="bench"),
        )
        out.append(alert.model_dump_json().encode())
    return out


def publish(port: int, topic: str, messages: list[bytes]) -> float:
    """Publish at QoS 1 as fast as the client can; return the start time."""
    with publisher(port) as client:
        start = time.monotonic()
        infos = [client.publish(topic, message, qos=1) for message in messages]
        for info in infos:
            info.wait_for_publish(timeout=300)
    return start


def baseline(port: int, messages: list[bytes]) -> float:
    """Return the bare subscriber's messages per second for the same burst."""
    topic = "bench/baseline/alert"
    done = threading.Event()
    seen = [0]
    last = [0.0]

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        seen[0] += 1
        last[0] = time.monotonic()
        if seen[0] == len(messages):
            done.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2)
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    time.sleep(0.5)
    start = publish(port, topic, messages)
    if not done.wait(timeout=300):
        raise SystemExit(f"baseline: only {seen[0]} of {len(messages)} arrived")
    sub.disconnect()
    sub.loop_stop()
    return len(messages) / (last[0] - start)


def fresh_database() -> str:
    name = f"linli_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def run_workers(
    workers: int, port: int, messages: list[bytes], buildings: int, root: Path
) -> float:
    """Return alerts committed on cases per second with ``workers`` hub processes."""
    url = fresh_database()
    engine = create_hub_engine(url)
    processes: list[LinliProcess] = []
    try:
        migrate(engine)
        store = HubStore(engine)
        for n in range(buildings):
            store.fleet.register_device(
                Device(
                    id=f"b{n}-smoke",
                    kind=DeviceKind.SMOKE,
                    location=f"Building {n}/Floor 1/Unit 101",
                    edge_id=EDGE,
                )
            )
        token = new_secret()
        for n in range(1, workers + 1):
            http_port = free_port()
            process = LinliProcess(
                f"hub-{n}",
                [
                    "hub", "--data-dir", str(root / f"w{workers}-{n}"), "--database-url", url,
                    "--mqtt", f"127.0.0.1:{port}", "--http-port", str(http_port),
                    "--worker-id", str(n),
                ],
                root / f"w{workers}-hub-{n}.log",
                env={"LINLI_HUB_BOOTSTRAP_TOKEN": token},
            )  # fmt: skip
            process.start()
            processes.append(process)
            wait_until(process.hub_connected, timeout=180, what=f"worker {n} up")
        with engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(AlertRow)).scalar_one()
        assert before == 0
        start = publish(port, edge_topic(EDGE, EdgeChannel.ALERT), messages)
        count = select(func.count()).select_from(AlertRow).where(AlertRow.case_id.is_not(None))
        while True:
            with engine.connect() as conn:
                done = conn.execute(count).scalar_one()
            if done >= len(messages):
                return len(messages) / (time.monotonic() - start)
            if time.monotonic() - start > 600:
                raise SystemExit(f"{workers} workers: only {done} of {len(messages)} on cases")
            time.sleep(0.02)
    finally:
        for process in processes:
            if process.alive:
                process.stop()
        engine.dispose()
        drop_database(url)


def main() -> None:
    """Print alerts → cases per second for each worker count beside the bare subscriber."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=3000)
    parser.add_argument("--buildings", type=int, default=100)
    parser.add_argument("--workers", default="1,2,3")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    messages = payloads(args.alerts, args.buildings)
    with tempfile.TemporaryDirectory(prefix="linli-bench-workers-") as folder:
        root = Path(folder)
        broker = MosquittoProcess(root / "mq", config_extra=site_tuning())
        broker.start()
        try:
            bare = baseline(broker.port, messages)
            print(f"\ncpus: {os.cpu_count()}   alerts per burst: {args.alerts}")
            print(f"{'bare paho subscriber (baseline)':40} {bare:8.0f} msgs/s")
            for workers in counts:
                rate = run_workers(workers, broker.port, messages, args.buildings, root)
                print(
                    f"{f'{workers} hub worker(s), PostgreSQL':40} {rate:8.0f} alerts/s"
                    f"   {rate / bare:5.2f}x baseline"
                )
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
