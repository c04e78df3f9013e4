"""Simulated devices and scenarios: the demo's community, and what the tests drive Linli with.

``sensors`` makes a registered device talk (native or Zigbee2MQTT), ``incidents`` says what
happens over simulated time, ``scenarios`` names the stories (``SCENARIOS``) as pure streams of
steps, and ``runner`` publishes a scenario to a broker. Nothing here reads a clock except the
runner.
"""
